package email

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
	lkmail "github.com/latchkeyid/latchkey/ui/mail"
)

// Fields of the forms.
const (
	FieldAddress = "address" // Begin
	FieldCode    = "code"    // Finish, Verify
)

// MaxAddress is the longest address accepted (RFC 5321 path limit).
const MaxAddress = 254

// DefaultLimits are the per-address and per-user send limits (issue 3: at
// most 10 emails to one address in 10 minutes).
var DefaultLimits = Limits{
	PerAddress: ratelimit.Rule{Scope: "email-to", Limit: 10, Window: 10 * time.Minute},
	PerUser:    ratelimit.Rule{Scope: "email-user", Limit: 20, Window: time.Hour},
	PerIP:      ratelimit.Rule{Scope: "email-ip", Limit: 30, Window: time.Hour},
}

// Limits are the send limits the method enforces before queueing a code.
// PerIP keys on method.RequestFrom(ctx).IP and is skipped when the flow did
// not put the request in the context.
type Limits struct {
	PerAddress ratelimit.Rule
	PerUser    ratelimit.Rule
	PerIP      ratelimit.Rule
}

// Method is the email method.
type Method struct {
	codes *method.Codes
	queue *sender.Queue
	tmpl  *lkmail.Templates
	keys  *secret.Keyring
	box   *secret.Box
	// decoySealed stands in for a decoy's stored address: opened where a
	// real challenge opens the enrollment's, so both cost the same.
	decoySealed []byte
	limiter     *ratelimit.Limiter
	limits      Limits
	pending     time.Duration
}

var (
	_ method.Method   = (*Method)(nil)
	_ method.Resender = (*Method)(nil)
)

// Option configures the method.
type Option func(*Method)

// WithLimiter enforces limits (DefaultLimits when zero) through l.
func WithLimiter(l *ratelimit.Limiter, limits Limits) Option {
	return func(m *Method) {
		m.limiter = l
		if limits != (Limits{}) {
			m.limits = limits
		}
	}
}

// New returns the email method. Messages go through queue (which must have
// an email sender), rendered from tmpl.
func New(codes *method.Codes, queue *sender.Queue, tmpl *lkmail.Templates, keys *secret.Keyring, opts ...Option) *Method {
	m := &Method{codes: codes, queue: queue, tmpl: tmpl, keys: keys, box: keys.Box("method/email"), limits: DefaultLimits, pending: method.CodeTTL}
	m.decoySealed = m.box.Seal([]byte(`{"address":"`+decoyAddress+`"}`), []byte("decoy"))
	for _, o := range opts {
		o(m)
	}
	return m
}

// Available reports whether email can be sent (an email sender is
// configured); when not, Begin and Challenge return method.ErrUnavailable
// before making any challenge.
func (m *Method) Available() bool { return m.queue.Available(sender.Email) }

// Name implements method.Method.
func (m *Method) Name() method.Name { return method.Email }

// Describe says how email shows on the pages. RFC 8176 has no value
// for email: a code sent there is a one-time password ("otp").
func (m *Method) Describe() method.Info {
	return method.Info{Rank: 50, AddTitle: "Email", Titles: map[string]string{"": "Email a code to"},
		AMR: "otp", Masked: true, Decoy: true, MailAddress: true}
}

// Channel implements method.Method: every email address is one channel.
func (m *Method) Channel(method.Enrollment) method.Channel { return method.ChannelEmail }

// stored is the sealed content of an enrollment and of a pending
// registration.
type stored struct {
	ID      string `json:"id,omitempty"`
	Address string `json:"address"`
}

// ParseAddress accepts a bare address (no display name, no angle
// brackets, no line breaks), at most MaxAddress bytes.
func ParseAddress(in string) (string, error) {
	s := strings.TrimSpace(in)
	if s == "" {
		return "", method.Invalid(FieldAddress, "invalid.email.empty")
	}
	if len(s) > MaxAddress || strings.ContainsAny(s, "\r\n<>,;\" ") {
		return "", method.Invalid(FieldAddress, "invalid.email.single")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", method.Invalid(FieldAddress, "invalid.email.single")
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || !strings.Contains(s[at+1:], ".") {
		return "", method.Invalid(FieldAddress, "invalid.email.single")
	}
	return s, nil
}

// DestinationKey is the HMAC of the normalised address: it finds a
// duplicate registration and keys the per-address limit without the
// address in the clear.
func (m *Method) DestinationKey(addr string) string {
	return hex.EncodeToString(m.keys.MAC("email-destination", user.Normalize(addr)))
}

func aadPending(flowID, userID string) []byte { return []byte("pending|" + flowID + "|" + userID) }

// Begin validates the address and sends a code to it.
func (m *Method) Begin(ctx context.Context, flowID string, u method.Ref, in method.Input) (method.Pending, error) {
	addr, err := ParseAddress(in[FieldAddress])
	if err != nil {
		return method.Pending{}, err
	}
	if !m.Available() {
		return method.Pending{}, method.ErrUnavailable
	}
	st := stored{ID: rand.Text(), Address: addr}
	key := m.DestinationKey(addr)
	if err := m.allow(ctx, u.ID, key); err != nil {
		return method.Pending{}, err
	}
	cid, code, exp, err := m.codes.Issue(ctx, flowID, u.ID, st.ID)
	if err != nil {
		return method.Pending{}, fmt.Errorf("email: begin: %w", err)
	}
	if !u.Decoy {
		if err := m.send(ctx, addr, code, "register"); err != nil {
			return method.Pending{}, err
		}
	}
	plain, _ := json.Marshal(st)
	return method.Pending{
		Method: method.Email, Label: method.MaskEmail(addr), Destination: key, ChallengeID: cid,
		Prompt: method.Prompt{Kind: "code", Destination: method.MaskEmail(addr), Digits: method.CodeDigits},
		State:  m.box.Seal(plain, aadPending(flowID, u.ID)), ExpiresAt: exp,
	}, nil
}

// Finish checks the code sent to the new address.
func (m *Method) Finish(ctx context.Context, flowID string, u method.Ref, p method.Pending, answer method.Input) (method.Enrollment, method.Result, error) {
	plain, err := m.box.Open(p.State, aadPending(flowID, u.ID))
	var st stored
	if err == nil {
		err = json.Unmarshal(plain, &st)
	}
	if err != nil {
		return method.Enrollment{}, method.Result{Dead: true}, nil // not this flow's registration
	}
	res, err := m.codes.Check(ctx, p.ChallengeID, flowID, u.ID, answer[FieldCode])
	if err != nil || !res.OK {
		return method.Enrollment{}, res, err
	}
	return m.enrollment(st.ID, u.ID, st.Address), res, nil
}

// enrollment is the registered address as stored: Finish and Provision
// make the same.
func (m *Method) enrollment(id, userID, addr string) method.Enrollment {
	data, _ := json.Marshal(stored{Address: addr})
	return method.Enrollment{
		ID: id, UserID: userID, Method: method.Email, Label: method.MaskEmail(addr),
		DestinationKey: m.DestinationKey(addr), Data: m.box.Seal(data, []byte(id)),
	}
}

// Address opens the stored address of e (for notifications to the user's
// addresses).
func (m *Method) Address(e method.Enrollment) (string, error) {
	if e.Method != method.Email {
		return "", fmt.Errorf("email: %s is not an email enrollment", e.ID)
	}
	plain, err := m.box.Open(e.Data, []byte(e.ID))
	if err != nil {
		return "", fmt.Errorf("email: open enrollment: %w", err)
	}
	var st stored
	if err := json.Unmarshal(plain, &st); err != nil || st.Address == "" {
		return "", fmt.Errorf("email: open enrollment: %w", errors.New("bad data"))
	}
	return st.Address, nil
}

// Challenge sends a code to e's stored address.
func (m *Method) Challenge(ctx context.Context, flowID string, u method.Ref, e method.Enrollment) (method.Challenge, error) {
	addr, err := m.target(u, e)
	if err != nil {
		return method.Challenge{}, err
	}
	if !m.Available() {
		return method.Challenge{}, method.ErrUnavailable
	}
	if err := m.allow(ctx, u.ID, limitKey(u, e)); err != nil {
		return method.Challenge{}, err
	}
	cid, code, exp, err := m.codes.Issue(ctx, flowID, u.ID, e.ID)
	if err != nil {
		return method.Challenge{}, fmt.Errorf("email: challenge: %w", err)
	}
	if err := m.send(ctx, addr, code, "verify"); err != nil {
		return method.Challenge{}, err
	}
	return method.Challenge{ID: cid, EnrollmentID: e.ID, Method: method.Email, FlowID: flowID, ExpiresAt: exp,
		Prompt: method.Prompt{Kind: "code", Destination: e.Label, Digits: method.CodeDigits}}, nil
}

// decoyAddress is the recipient of a decoy's message, which is never sent.
const decoyAddress = "decoy@invalid"

// target returns the stored address of e for u, or "" for a decoy (which
// does all the work but sends nothing).
func (m *Method) target(u method.Ref, e method.Enrollment) (string, error) {
	if u.Decoy {
		if _, err := m.box.Open(m.decoySealed, []byte("decoy")); err != nil {
			return "", fmt.Errorf("email: decoy: %w", err)
		}
		return "", nil
	}
	if e.UserID != u.ID || e.Method != method.Email {
		return "", method.ErrNotFound
	}
	return m.Address(e)
}

// Resend sends a new code for c to the same stored address; the failure
// count of c is kept.
func (m *Method) Resend(ctx context.Context, flowID string, u method.Ref, e method.Enrollment, c method.Challenge) (method.Challenge, error) {
	if c.EnrollmentID != e.ID || c.FlowID != flowID {
		return method.Challenge{}, method.ErrDead
	}
	addr, err := m.target(u, e)
	if err != nil {
		return method.Challenge{}, err
	}
	if err := m.allow(ctx, u.ID, limitKey(u, e)); err != nil {
		return method.Challenge{}, err
	}
	code, exp, err := m.codes.Reissue(ctx, c.ID, flowID, u.ID)
	if err != nil {
		return method.Challenge{}, err
	}
	if err := m.send(ctx, addr, code, "verify"); err != nil {
		return method.Challenge{}, err
	}
	c.ExpiresAt = exp
	return c, nil
}

// Verify checks a code against c.
func (m *Method) Verify(ctx context.Context, flowID string, u method.Ref, e method.Enrollment, c method.Challenge, answer method.Input) (method.Result, error) {
	if c.EnrollmentID != e.ID || c.FlowID != flowID {
		return method.Result{Dead: true}, nil
	}
	return m.codes.Check(ctx, c.ID, flowID, u.ID, answer[FieldCode])
}

// limitKey is the per-address key of e; a decoy, which has no address,
// counts against its own enrollment id, so it is limited (and takes the
// same time) like a real user.
func limitKey(u method.Ref, e method.Enrollment) string {
	if e.DestinationKey == "" && u.Decoy {
		return "decoy:" + e.ID
	}
	return e.DestinationKey
}

// allow applies the per-address, per-user and per-IP limits.
func (m *Method) allow(ctx context.Context, userID, destKey string) error {
	if m.limiter == nil {
		return nil
	}
	for _, hit := range []struct {
		r   ratelimit.Rule
		key string
	}{{m.limits.PerAddress, destKey}, {m.limits.PerUser, userID}, {m.limits.PerIP, method.RequestFrom(ctx).IP}} {
		if hit.r.Limit == 0 || hit.key == "" {
			continue
		}
		ok, wait, err := hit.r.Allow(ctx, m.limiter, hit.key)
		if err != nil {
			return fmt.Errorf("email: rate limit: %w", err)
		}
		if !ok {
			return &method.RateLimitError{RetryAfter: wait}
		}
	}
	return nil
}

func (m *Method) send(ctx context.Context, addr, code, purpose string) error {
	msg, err := m.tmpl.Render(ctx, lkmail.Code, map[string]any{"Code": code, "Minutes": int(m.codes.TTL().Minutes()), "Purpose": purpose})
	if err != nil {
		return fmt.Errorf("email: render: %w", err)
	}
	out := sender.Message{Channel: sender.Email, To: addr, Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, Kind: "code"}
	enqueue := m.queue.Enqueue
	if addr == "" {
		// A decoy: rendered, sealed and written like a real message, never sent.
		out.To, enqueue = decoyAddress, m.queue.EnqueueDecoy
	}
	if err := enqueue(ctx, out); err != nil {
		if errors.Is(err, sender.ErrNoSender) {
			return fmt.Errorf("email: %w: %w", method.ErrUnavailable, err)
		}
		return fmt.Errorf("email: send: %w", err)
	}
	return nil
}
