package phone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/nyaruka/phonenumbers"
)

// Limits are the toll-fraud defences (checklist 51-53), all checked before
// the gateway is called. A zero Rule (Limit 0) or zero count disables that
// limit; the country allowlist always applies.
type Limits struct {
	PerNumber    ratelimit.Rule // sends to one number: 3 per 10 minutes
	PerNumberDay ratelimit.Rule // sends to one number: 10 per day
	PerUser      ratelimit.Rule // sends for one user: 5 per hour
	PerUserDay   ratelimit.Rule // sends for one user: 15 per day
	PerIP        ratelimit.Rule // sends for one client IP: 10 per hour
	PerIPDay     ratelimit.Rule // sends for one client IP: 50 per day
	// DialCodeDay caps the sends per calling code per day (SMS pumping
	// hits a few countries hard); DialCodeDayFor overrides it per code
	// ("44": 100).
	DialCodeDay    int
	DialCodeDayFor map[string]int
	// GlobalHour is the hourly budget of all sends. Reaching it trips the
	// circuit breaker: every send is refused for BreakerOpen and an alert
	// is logged and audited once.
	GlobalHour  int
	BreakerOpen time.Duration
	// CoolDown is the least time between two sends to one number over one
	// channel (a resend, or a new challenge): 60 s.
	CoolDown time.Duration
}

// DefaultLimits are the limits of the checklist.
var DefaultLimits = Limits{
	PerNumber:    ratelimit.Rule{Scope: "phone-to", Limit: 3, Window: 10 * time.Minute},
	PerNumberDay: ratelimit.Rule{Scope: "phone-to-day", Limit: 10, Window: 24 * time.Hour},
	PerUser:      ratelimit.Rule{Scope: "phone-user", Limit: 5, Window: time.Hour},
	PerUserDay:   ratelimit.Rule{Scope: "phone-user-day", Limit: 15, Window: 24 * time.Hour},
	PerIP:        ratelimit.Rule{Scope: "phone-ip", Limit: 10, Window: time.Hour},
	PerIPDay:     ratelimit.Rule{Scope: "phone-ip-day", Limit: 50, Window: 24 * time.Hour},
	DialCodeDay:  500,
	GlobalHour:   1000,
	BreakerOpen:  time.Hour,
	CoolDown:     60 * time.Second,
}

// Scopes of the limiter rows the guard writes besides the Rules'.
const (
	scopeDialCode = "phone-cc-day"
	scopeGlobal   = "phone-global"
	scopeBreaker  = "phone-breaker"
	scopeCoolDown = "phone-cooldown"
	breakerKey    = "global"
)

// Audit event types of the guard.
const (
	EventSend    = "phone.send"    // one per send attempt: ok, fail (gateway) or blocked (a limit)
	EventBreaker = "phone.breaker" // the global budget tripped the circuit breaker
)

// Errors of the guard. Each unwraps to a method error the flow already
// shows: a refused country or an open breaker is method.ErrUnavailable
// ("choose another method"), a limit is *method.RateLimitError.
var (
	ErrCountry     = fmt.Errorf("phone: country not allowed: %w", method.ErrUnavailable)
	ErrBreakerOpen = fmt.Errorf("phone: send budget exhausted: %w", method.ErrUnavailable)
)

// LimitError names the limit that refused a send (for the audit log);
// it unwraps to *method.RateLimitError.
type LimitError struct {
	Limit string // "cooldown", "number", "number-day", "user", "ip", "dial-code"
	method.RateLimitError
}

func (e *LimitError) Error() string {
	return "phone: " + e.Limit + " limit: " + e.RateLimitError.Error()
}

// Unwrap returns the *method.RateLimitError.
func (e *LimitError) Unwrap() error { return &e.RateLimitError }

// Guard enforces the allowlist and the limits, and audits every send. One
// guard is shared by the three phone methods so their sends count together.
type Guard struct {
	limiter   *ratelimit.Limiter
	limits    Limits
	countries func(context.Context) ([]string, error)
	region    string // LATCHKEY_DEFAULT_REGION, where decoy numbers are drawn
	audit     *audit.Log
	log       *slog.Logger
}

// GuardOption configures a Guard.
type GuardOption func(*Guard)

// WithCountries sets where the allowlist comes from (the policy); the
// default allows only the deployment's region.
func WithCountries(f func(context.Context) ([]string, error)) GuardOption {
	return func(g *Guard) { g.countries = f }
}

// WithAudit records every send attempt in l.
func WithAudit(l *audit.Log) GuardOption { return func(g *Guard) { g.audit = l } }

// WithGuardLogger sets the logger of the breaker alert (default slog.Default()).
func WithGuardLogger(l *slog.Logger) GuardOption { return func(g *Guard) { g.log = l } }

// NewGuard returns a guard counting in limiter. defaultRegion
// (LATCHKEY_DEFAULT_REGION) is the allowlist unless WithCountries says
// otherwise.
func NewGuard(limiter *ratelimit.Limiter, limits Limits, defaultRegion string, opts ...GuardOption) *Guard {
	region := strings.ToUpper(defaultRegion)
	g := &Guard{limiter: limiter, limits: limits, log: slog.Default(), region: region,
		countries: func(context.Context) ([]string, error) { return []string{region}, nil }}
	for _, o := range opts {
		o(g)
	}
	return g
}

// Allowed returns the countries sends may go to now.
func (g *Guard) Allowed(ctx context.Context) ([]string, error) {
	list, err := g.countries(ctx)
	if err != nil {
		return nil, fmt.Errorf("phone: allowlist: %w", err)
	}
	return list, nil
}

// Send describes one send for the guard.
type Send struct {
	Method  method.Name
	Channel sender.Channel
	Purpose string // "register", "verify", "resend"
	UserID  string
	FlowID  string
	Number  Number // zero for a decoy
	DestKey string // HMAC of the number (or the decoy's stand-in)
	Decoy   bool
}

// Check applies the allowlist, the breaker and every limit to s, in that
// order, and counts s against each limit it passes. A refused send is
// audited here; the caller audits the outcome of an allowed one with
// Record. A decoy (unknown user) meets the same per-number, per-user,
// per-IP and cool-down limits and the same open breaker as a real user, so
// its pages cannot be told apart, but spends no budget.
func (g *Guard) Check(ctx context.Context, s Send) error {
	err := g.check(ctx, s)
	if err != nil && !s.Decoy {
		var le *LimitError
		reason := "error"
		switch {
		case errors.As(err, &le):
			reason = le.Limit
		case errors.Is(err, ErrCountry):
			reason = "country"
		case errors.Is(err, ErrBreakerOpen):
			reason = "breaker"
		}
		if reason != "error" {
			g.Record(ctx, s, audit.Blocked, reason)
		}
	}
	return err
}

func (g *Guard) check(ctx context.Context, s Send) error {
	if !s.Decoy {
		allowed, err := g.Allowed(ctx)
		if err != nil {
			return err
		}
		if !slices.Contains(allowed, s.Number.Region) {
			return ErrCountry
		}
	}
	if open, err := g.BreakerOpen(ctx); err != nil || open {
		if err != nil {
			return err
		}
		return ErrBreakerOpen
	}
	ip := method.RequestFrom(ctx).IP
	user := s.UserID
	if s.Decoy {
		user = "decoy:" + s.UserID
	}
	l := g.limits
	steps := []struct {
		name string
		r    ratelimit.Rule
		key  string
	}{
		{"cooldown", ratelimit.Rule{Scope: scopeCoolDown, Limit: 1, Window: l.CoolDown}, s.DestKey + "|" + string(s.Channel)},
		{"number", l.PerNumber, s.DestKey},
		{"number-day", l.PerNumberDay, s.DestKey},
		{"user", l.PerUser, user},
		{"user-day", l.PerUserDay, user},
		{"ip", l.PerIP, ip},
		{"ip-day", l.PerIPDay, ip},
	}
	if s.Decoy {
		// A decoy's number is drawn in the deployment's region: it meets
		// that calling code's daily cap as a real send would, without
		// spending it (unknown names must not exhaust a country's budget).
		if err := g.decoyDialCode(ctx); err != nil {
			return err
		}
	} else if n := l.dialCodeCap(s.Number.DialCode()); n > 0 {
		steps = append(steps, struct {
			name string
			r    ratelimit.Rule
			key  string
		}{"dial-code", ratelimit.Rule{Scope: scopeDialCode, Limit: n, Window: 24 * time.Hour}, s.Number.DialCode()})
	}
	for _, st := range steps {
		if st.r.Limit <= 0 || st.r.Window <= 0 || st.key == "" || g.limiter == nil {
			continue
		}
		ok, wait, err := st.r.Allow(ctx, g.limiter, st.key)
		if err != nil {
			return fmt.Errorf("phone: limit %s: %w", st.name, err)
		}
		if !ok {
			return &LimitError{Limit: st.name, RateLimitError: method.RateLimitError{RetryAfter: wait}}
		}
	}
	if s.Decoy || l.GlobalHour <= 0 || g.limiter == nil {
		return nil
	}
	ok, _, err := g.limiter.Allow(ctx, scopeGlobal, breakerKey, l.GlobalHour, time.Hour)
	if err != nil {
		return fmt.Errorf("phone: global budget: %w", err)
	}
	if !ok {
		if err := g.trip(ctx); err != nil {
			return err
		}
		return ErrBreakerOpen
	}
	return nil
}

// decoyDialCode refuses a decoy's send once real sends have spent the
// daily cap of the region's calling code, reading the count only.
func (g *Guard) decoyDialCode(ctx context.Context) error {
	cc := strconv.Itoa(phonenumbers.GetCountryCodeForRegion(g.region))
	n := g.limits.dialCodeCap(cc)
	if n <= 0 || g.limiter == nil {
		return nil
	}
	used, err := g.limiter.Count(ctx, scopeDialCode, cc, 24*time.Hour)
	if err != nil {
		return fmt.Errorf("phone: limit dial-code: %w", err)
	}
	if used >= n {
		return &LimitError{Limit: "dial-code", RateLimitError: method.RateLimitError{RetryAfter: time.Hour}}
	}
	return nil
}

func (l Limits) dialCodeCap(cc string) int {
	if n, ok := l.DialCodeDayFor[cc]; ok {
		return n
	}
	return l.DialCodeDay
}

func (l Limits) breakerOpen() time.Duration {
	if l.BreakerOpen > 0 {
		return l.BreakerOpen
	}
	return time.Hour
}

// BreakerOpen reports whether the circuit breaker refuses sends now.
func (g *Guard) BreakerOpen(ctx context.Context) (bool, error) {
	if g.limiter == nil || g.limits.GlobalHour <= 0 {
		return false, nil
	}
	n, err := g.limiter.Count(ctx, scopeBreaker, breakerKey, g.limits.breakerOpen())
	if err != nil {
		return false, fmt.Errorf("phone: breaker: %w", err)
	}
	return n > 0, nil
}

// trip opens the breaker; the first trip in a BreakerOpen period raises
// the alert (an error log line for monitoring, and an audit event).
func (g *Guard) trip(ctx context.Context) error {
	first, _, err := g.limiter.Allow(ctx, scopeBreaker, breakerKey, 1, g.limits.breakerOpen())
	if err != nil {
		return fmt.Errorf("phone: breaker: %w", err)
	}
	if first {
		g.log.Error("phone: hourly send budget exhausted: circuit breaker open, phone codes refused",
			"budget", g.limits.GlobalHour, "open_for", g.limits.breakerOpen().String())
		if g.audit != nil {
			_ = g.audit.Record(ctx, audit.Event{Type: EventBreaker, Outcome: audit.Blocked, IP: method.RequestFrom(ctx).IP,
				Detail: fmt.Sprintf(`{"budget":%d}`, g.limits.GlobalHour)})
		}
	}
	return nil
}

// ResetBreaker closes the breaker and forgets the hour's budget (an
// operator who has dealt with the attack).
func (g *Guard) ResetBreaker(ctx context.Context) error {
	if g.limiter == nil {
		return nil
	}
	if err := g.limiter.Reset(ctx, scopeBreaker, breakerKey); err != nil {
		return err
	}
	return g.limiter.Reset(ctx, scopeGlobal, breakerKey)
}

// Record audits one send attempt. It never records the code, nor the
// number in the clear (only its masked form and calling code).
func (g *Guard) Record(ctx context.Context, s Send, outcome, reason string) {
	if g.audit == nil || s.Decoy {
		return
	}
	d := map[string]string{"method": string(s.Method), "channel": string(s.Channel), "purpose": s.Purpose,
		"to": s.Number.Masked(), "cc": s.Number.DialCode()}
	if reason != "" {
		d["reason"] = reason
	}
	b, _ := json.Marshal(d)
	req := method.RequestFrom(ctx)
	if err := g.audit.Record(context.WithoutCancel(ctx), audit.Event{Type: EventSend, UserID: s.UserID, FlowID: s.FlowID,
		IP: req.IP, UserAgent: req.UserAgent, Outcome: outcome, Detail: string(b)}); err != nil {
		g.log.Warn("phone: audit send", "err", err)
	}
}
