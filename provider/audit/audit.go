package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Outcomes.
const (
	OK      = "ok"
	Fail    = "fail"
	Blocked = "blocked"
)

// Common event types; other owners add their own ("admin.*" ...).
const (
	SignIn          = "signin"
	SignInFailed    = "signin.failed"
	Lockout         = "lockout"
	Unlock          = "unlock"
	PasswordReset   = "password.reset"
	MethodAdded     = "method.added"
	MethodRemoved   = "method.removed"
	StepUp          = "stepup"
	RecoveryStart   = "recovery.start"
	MethodVerified  = "method.verified"
	MethodFailed    = "method.failed"
	RecoveryBlocked = "recovery.blocked"
	CodeSent        = "code.sent"
	CaptchaFailed   = "recovery.captcha" // a recovery start refused for a wrong CAPTCHA (no flow yet)
	FraudReported   = "report.not-me"    // "This wasn't me" from a notification's link
)

// Field limits in characters; longer values are cut, never rejected, so a
// hostile User-Agent cannot make auditing fail.
const (
	MaxType      = 64
	MaxID        = 64
	MaxIP        = 64 // an IPv6 address with zone fits
	MaxUserAgent = 255
	MaxOutcome   = 16
	MaxDetail    = 1000
)

// ErrNoType means an event without a Type.
var ErrNoType = errors.New("audit: event type is required")

// Event is one audit record. UserID is "" or "unknown" when the login did
// not match a user. Detail must never contain a secret (see the package
// documentation).
//
// Its JSON form is one line of a JSON Lines export and an item of the
// admin API's list.
type Event struct {
	ID        uint64    `gorm:"primaryKey;autoIncrement" json:"id"`
	Time      time.Time `gorm:"precision:6;not null;index" json:"time"`
	Type      string    `gorm:"size:64;not null" json:"type"`
	UserID    string    `gorm:"size:64;not null;index" json:"user_id"`
	FlowID    string    `gorm:"size:64;not null" json:"flow_id"`
	IP        string    `gorm:"column:ip;size:64;not null" json:"ip"`
	UserAgent string    `gorm:"size:255;not null" json:"user_agent"`
	Outcome   string    `gorm:"size:16;not null" json:"outcome"`
	Detail    string    `gorm:"size:1000;not null" json:"detail"`
}

// TableName is the audit_events table of migration 0002.
func (Event) TableName() string { return "audit_events" }

// Filter selects events for List; zero fields select everything.
type Filter struct {
	UserID string
	Since  time.Time // events at or after
	Until  time.Time // events before
	Type   string    // exact type
	// TypePrefix selects the types that start with it ("admin." for every
	// administrator action).
	TypePrefix string
	Outcome    string // exact outcome (OK, Fail, Blocked)
	Limit      int    // newest first; 0 means DefaultLimit, capped at MaxLimit
}

// List limits.
const (
	DefaultLimit = 100
	MaxLimit     = 10000
)

// Log writes and reads audit events. It is safe for concurrent use.
type Log struct {
	g       *gorm.DB
	now     func() time.Time
	observe []func(typ, outcome string)
}

// Observe sets f to be told the type and outcome of every event recorded
// (the provider counts them for its metrics: sign-in failures, lockouts,
// recovery steps and phone sends are all events). An event written in a
// transaction that later rolls back is counted too. Call it before the log
// is used; types and outcomes are constants of the code, never input, so
// they are safe metric labels.
// Several providers on one log (instances in one test process) each add
// their own.
func (l *Log) Observe(f func(typ, outcome string)) { l.observe = append(l.observe, f) }

// Option configures a Log.
type Option func(*Log)

// WithClock replaces time.Now for events recorded without a Time (tests).
func WithClock(now func() time.Time) Option { return func(l *Log) { l.now = now } }

// NewLog returns a Log on g (migrated with provider/schema).
func NewLog(g *gorm.DB, opts ...Option) *Log {
	l := &Log{g: g, now: time.Now}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Record appends e with one INSERT. A zero Time means now; every time is
// stored in UTC.
func (l *Log) Record(ctx context.Context, e Event) error {
	return l.insert(l.g.WithContext(ctx), e)
}

// RecordTx appends e inside the caller's transaction, so the event is
// written if and only if the change it describes is.
func (l *Log) RecordTx(tx *gorm.DB, e Event) error {
	return l.insert(tx, e)
}

func (l *Log) insert(db *gorm.DB, e Event) error {
	e.ID = 0
	e = clean(e)
	if e.Type == "" {
		return ErrNoType
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC()
	if err := db.Create(&e).Error; err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Type, err)
	}
	for _, f := range l.observe {
		f(e.Type, e.Outcome)
	}
	return nil
}

// clean cuts every field to its column and replaces control characters, so
// a crafted User-Agent cannot forge lines in `latchkey audit` output.
func clean(e Event) Event {
	e.Type = cut(e.Type, MaxType)
	e.UserID = cut(e.UserID, MaxID)
	e.FlowID = cut(e.FlowID, MaxID)
	e.IP = cut(e.IP, MaxIP)
	e.UserAgent = cut(e.UserAgent, MaxUserAgent)
	e.Outcome = cut(e.Outcome, MaxOutcome)
	e.Detail = cut(e.Detail, MaxDetail)
	return e
}

func cut(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// List returns matching events, newest first.
func (l *Log) List(ctx context.Context, f Filter) ([]Event, error) {
	q := f.where(l.g.WithContext(ctx).Order("time DESC").Order("id DESC"))
	switch {
	case f.Limit <= 0:
		f.Limit = DefaultLimit
	case f.Limit > MaxLimit:
		f.Limit = MaxLimit
	}
	var out []Event
	if err := q.Limit(f.Limit).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	return out, nil
}

// likeEscaper makes a prefix literal in a LIKE pattern (the escape
// character is "!": a backslash means different things in SQLite and MySQL
// string literals).
var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// where adds f's conditions (not its limit) to q.
func (f Filter) where(q *gorm.DB) *gorm.DB {
	if f.UserID != "" {
		q = q.Where("user_id = ?", f.UserID)
	}
	if !f.Since.IsZero() {
		q = q.Where("time >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("time < ?", f.Until.UTC())
	}
	if f.Type != "" {
		q = q.Where("type = ?", f.Type)
	}
	if f.TypePrefix != "" {
		q = q.Where("type LIKE ? ESCAPE '!'", likeEscaper.Replace(f.TypePrefix)+"%")
	}
	if f.Outcome != "" {
		q = q.Where("outcome = ?", f.Outcome)
	}
	return q
}
