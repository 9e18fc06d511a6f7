package push

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// Limits (checklist 49) and lifetimes.
const (
	// TTL is how long a push waits for a decision by default.
	TTL = 2 * time.Minute
	// MaxTTL is the hard cap whatever the configuration says.
	MaxTTL = 10 * time.Minute
	// LinkTTL is how long an enrollment link works.
	LinkTTL = 10 * time.Minute
	// PerWindow pushes per user per Window, and PerDay per 24 hours,
	// counted since the user's last successful push.
	PerWindow = 3
	Window    = 15 * time.Minute
	PerDay    = 10
	// ReportBlock is how long a fraud report blocks pushes by default.
	ReportBlock = time.Hour
	// VerifyGrace is how long after a push's expiry an approval given in
	// time may still be collected by the page (it polls every few seconds).
	VerifyGrace = 30 * time.Second
)

// Challenge states (push_challenges.status).
const (
	statusPending  = "pending"
	statusApproved = "approved"
	statusDenied   = "denied"
	statusReported = "reported"
	statusWrong    = "wrong"
	statusExpired  = "expired"
)

// Audit event types.
const (
	EventSent     = "push.sent"
	EventRefused  = "push.refused"
	EventApproved = "push.approved"
	EventDenied   = "push.denied"
	EventWrong    = "push.wrong-number"
	EventFraud    = "push.fraud-report"
	EventDevice   = "push.device-enrolled"
)

// Errors.
var (
	// ErrBlocked: pushes for this account are blocked after a fraud
	// report. It is a method.ErrUnavailable: pages offer other methods.
	ErrBlocked = fmt.Errorf("push: blocked after a fraud report: %w", method.ErrUnavailable)
)

// Config configures the method. Issuer is required.
type Config struct {
	// Issuer is the public URL; links and the poll URL are built from it,
	// never from the request.
	Issuer string
	// App is the name shown on the device when the flow does not name
	// the application (WithApp). Default "Latchkey".
	App string
	// TTL of a push (default TTL, capped at MaxTTL).
	TTL time.Duration
	// ReportBlock: how long "Deny, and report it" blocks pushes for the
	// account (policy). 0 means ReportBlock; negative disables blocking.
	ReportBlock time.Duration
	// ReportBlockFunc, when set, is asked at each fraud report instead of
	// ReportBlock, so the duration can live in the admin's policy.
	ReportBlockFunc func(ctx context.Context) (time.Duration, error)
	// Locator names the approximate place of an IP ("" when unknown).
	// Default: LocalLocator.
	Locator Locator
	// Audit receives device-side events (decisions, fraud reports).
	Audit *audit.Log
	// Now is the clock (tests).
	Now func() time.Time
	// PollEvery is how often a waiting device request re-reads the
	// database (default 1s).
	PollEvery time.Duration
	// WebPushContact is the VAPID "sub" (mailto: or https URL) push
	// services may use to reach the operator; default the issuer.
	WebPushContact string
	// WebPushClient replaces the HTTP client for push services (tests);
	// the default refuses non-public addresses.
	WebPushClient *http.Client
	// OnWebPush, if set, learns the outcome of each Web Push delivery
	// (tests, metrics).
	OnWebPush func(deviceID string, status int, err error)
}

// Method is the push method. It implements method.Method and serves the
// device API (Routes).
type Method struct {
	g     *gorm.DB
	store *method.Store
	keys  *secret.Keyring
	box   *secret.Box
	cfg   Config
	base  *url.URL
	wake  *waker
	sends backgroundSends
}

// Not a method.Resender: one wrong answer ends a push, so "again" is a
// new challenge (choose the method again), not a resend of the same one.
var _ method.Method = (*Method)(nil)

// New returns the method on g.
func New(g *gorm.DB, store *method.Store, keys *secret.Keyring, cfg Config) (*Method, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("push: issuer must be an absolute http(s) URL, not %q", cfg.Issuer)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	if cfg.App == "" {
		cfg.App = "Latchkey"
	}
	if cfg.TTL <= 0 {
		cfg.TTL = TTL
	}
	cfg.TTL = min(cfg.TTL, MaxTTL)
	if cfg.ReportBlock == 0 {
		cfg.ReportBlock = ReportBlock
	}
	if cfg.Locator == nil {
		cfg.Locator = LocalLocator{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PollEvery <= 0 {
		cfg.PollEvery = time.Second
	}
	return &Method{g: g, store: store, keys: keys, box: keys.Box("method/push"), cfg: cfg, base: u, wake: newWaker()}, nil
}

func (m *Method) now() time.Time { return m.cfg.Now().UTC() }

// url returns an absolute URL under the issuer.
func (m *Method) url(path string) string { return m.base.String() + path }

// Name implements method.Method.
func (m *Method) Name() method.Name { return method.Push }

// Describe says how the Latchkey Authenticator shows on the pages.
func (m *Method) Describe() method.Info {
	return method.Info{Rank: 0, AddTitle: "Latchkey Authenticator",
		Titles: map[string]string{"": "Approve a notification on my authenticator app"}, App: true, AMR: "swk", Decoy: true,
		DecoyLabel:    "Latchkey Authenticator",
		LapsedMessage: "That request was denied, answered with another number, or expired. Choose a method to try again."}
}

// Channel implements method.Method: the push shares the app channel with
// TOTP (a code and a push from one phone count once).
func (m *Method) Channel(method.Enrollment) method.Channel { return method.ChannelApp }

type appKey struct{}

// WithApp returns ctx naming the application the user signs in to; the
// device shows it with the request.
func WithApp(ctx context.Context, app string) context.Context {
	return context.WithValue(ctx, appKey{}, app)
}

// app is the name the device shows: WithApp's, else the request's (the
// application of the sign-in the flow continues), else the configured one.
func (m *Method) app(ctx context.Context) string {
	a, _ := ctx.Value(appKey{}).(string)
	if strings.TrimSpace(a) == "" {
		a = method.RequestFrom(ctx).App
	}
	if a = strings.TrimSpace(a); a != "" {
		return cut(a, 200)
	}
	return m.cfg.App
}

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// --- rows (live models; frozen copies in plugin/schema/0004_push.go) ---

type linkRow struct {
	KeyHash   string `gorm:"primaryKey;size:64"`
	FlowID    string `gorm:"size:64"`
	UserID    string `gorm:"size:64"`
	Account   string `gorm:"size:200"`
	DeviceID  string `gorm:"size:32"`
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

func (linkRow) TableName() string { return "push_links" }

type deviceRow struct {
	ID         string `gorm:"primaryKey;size:32"`
	UserID     string `gorm:"size:64"`
	Name       string `gorm:"size:100"`
	PublicKey  []byte
	CreatedAt  time.Time
	LastSeenAt *time.Time
}

func (deviceRow) TableName() string { return "push_devices" }

type challengeRow struct {
	ID        string `gorm:"primaryKey;size:32"`
	FlowID    string
	UserID    string
	DeviceID  string
	NumberMAC []byte
	App       string
	IP        string
	Place     string
	Status    string
	CreatedAt time.Time
	ExpiresAt time.Time
	DecidedAt *time.Time
	UsedAt    *time.Time
}

func (challengeRow) TableName() string { return "push_challenges" }

type accountRow struct {
	UserID        string `gorm:"primaryKey;size:64"`
	BlockedUntil  *time.Time
	LastSuccessAt *time.Time
}

func (accountRow) TableName() string { return "push_accounts" }

type nonceRow struct {
	Key       string `gorm:"primaryKey;size:64"`
	ExpiresAt time.Time
}

func (nonceRow) TableName() string { return "push_nonces" }

// --- registration ---

type pendingState struct {
	KeyHash string `json:"k"`
}

func aadPending(flowID, userID string) []byte { return []byte("push-pending|" + flowID + "|" + userID) }

func (m *Method) linkKey(token string) string {
	return hex.EncodeToString(m.keys.MAC("push-link", token))
}

// EnrollPath is where enrollment links point: the web authenticator,
// with the token in the fragment so it never reaches a server log.
const EnrollPath = "/static/authenticator/"

// Begin makes a one-time enrollment link and its QR code.
func (m *Method) Begin(ctx context.Context, flowID string, u method.Ref, _ method.Input) (method.Pending, error) {
	if u.Decoy || u.ID == "" {
		return method.Pending{}, method.ErrUnavailable
	}
	now := m.now()
	token := rand.Text()
	r := linkRow{KeyHash: m.linkKey(token), FlowID: flowID, UserID: u.ID, Account: cut(u.Username, 200),
		CreatedAt: now, ExpiresAt: now.Add(LinkTTL)}
	if err := m.g.WithContext(ctx).Create(&r).Error; err != nil {
		return method.Pending{}, fmt.Errorf("push: begin: %w", err)
	}
	link := m.url(EnrollPath) + "#enroll=" + token
	png, err := qrcode.Encode(link, qrcode.Medium, 256)
	if err != nil {
		return method.Pending{}, fmt.Errorf("push: qr code: %w", err)
	}
	st, _ := json.Marshal(pendingState{KeyHash: r.KeyHash})
	return method.Pending{
		Method: method.Push, Label: "Latchkey Authenticator",
		Prompt: method.Prompt{Kind: "push", Digits: 6, Link: link, QRCode: "data:image/png;base64," + base64.StdEncoding.EncodeToString(png),
			Expires: r.ExpiresAt},
		State: m.box.Seal(st, aadPending(flowID, u.ID)), ExpiresAt: r.ExpiresAt,
	}, nil
}

// storedKey is the sealed Data of an enrollment.
type storedKey struct {
	Device string          `json:"device"`
	JWK    json.RawMessage `json:"jwk"`
}

// FieldCode is the form field of the pairing code at registration.
const FieldCode = "code"

// PairingCode is the 6-digit code a device shows once it used an
// enrollment link; the user types it on the page that showed the QR code.
// It proves that the device which claimed the link is the user's own, not
// one of someone who photographed the QR code first.
func (m *Method) PairingCode(deviceID string) string {
	mac := m.keys.MAC("push-pairing", deviceID)
	n := (uint32(mac[0])<<24 | uint32(mac[1])<<16 | uint32(mac[2])<<8 | uint32(mac[3])) % 1_000_000
	return fmt.Sprintf("%06d", n)
}

// Finish completes a registration once a device used the link and the
// user typed the pairing code it shows. Until then the result is not OK
// (Pending while no device has used the link).
func (m *Method) Finish(ctx context.Context, flowID string, u method.Ref, p method.Pending, answer method.Input) (method.Enrollment, method.Result, error) {
	plain, err := m.box.Open(p.State, aadPending(flowID, u.ID))
	var st pendingState
	if err == nil {
		err = json.Unmarshal(plain, &st)
	}
	if err != nil || st.KeyHash == "" {
		return method.Enrollment{}, method.Result{Dead: true}, nil
	}
	var l linkRow
	err = m.g.WithContext(ctx).Where("key_hash = ? AND user_id = ? AND flow_id = ?", st.KeyHash, u.ID, flowID).Take(&l).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return method.Enrollment{}, method.Result{Dead: true}, nil
	}
	if err != nil {
		return method.Enrollment{}, method.Result{}, fmt.Errorf("push: finish: %w", err)
	}
	if l.UsedAt == nil || l.DeviceID == "" {
		if !m.now().Before(l.ExpiresAt) {
			return method.Enrollment{}, method.Result{Dead: true}, nil
		}
		return method.Enrollment{}, method.Result{Pending: true}, nil
	}
	var d deviceRow
	if err := m.g.WithContext(ctx).Where("id = ? AND user_id = ?", l.DeviceID, u.ID).Take(&d).Error; err != nil {
		return method.Enrollment{}, method.Result{Dead: true}, nil
	}
	if subtle.ConstantTimeCompare([]byte(method.NormalizeCode(answer[FieldCode])), []byte(m.PairingCode(d.ID))) != 1 {
		return method.Enrollment{}, method.Result{}, nil
	}
	data, _ := json.Marshal(storedKey{Device: d.ID, JWK: d.PublicKey})
	label := "Latchkey Authenticator"
	if d.Name != "" {
		label += " (" + d.Name + ")"
	}
	return method.Enrollment{ID: d.ID, UserID: u.ID, Method: method.Push, Label: cut(label, 200),
		DestinationKey: hex.EncodeToString(m.keys.MAC("push-device", string(d.PublicKey))),
		Data:           m.box.Seal(data, []byte(d.ID))}, method.Result{OK: true}, nil
}

// --- challenges ---

// newNumber returns the two-digit number for number matching, 10..99.
func newNumber() string {
	n, err := rand.Int(rand.Reader, big.NewInt(90))
	if err != nil {
		panic(fmt.Sprintf("push: crypto/rand: %v", err))
	}
	return fmt.Sprintf("%02d", n.Int64()+10)
}

func (m *Method) numberMAC(challengeID, number string) []byte {
	return m.keys.MAC("push-number", challengeID, number)
}

// Challenge sends a push to e's device, after the push-bombing limits. The
// number for the page is in the returned Prompt only.
func (m *Method) Challenge(ctx context.Context, flowID string, u method.Ref, e method.Enrollment) (method.Challenge, error) {
	if !u.Decoy && (e.UserID != u.ID || e.Method != method.Push) {
		return method.Challenge{}, method.ErrNotFound
	}
	now := m.now()
	req := method.RequestFrom(ctx)
	r := challengeRow{ID: rand.Text(), FlowID: flowID, UserID: u.ID, DeviceID: e.ID, App: m.app(ctx),
		IP: cut(req.IP, 64), Place: cut(m.cfg.Locator.Place(req.IP), 200), Status: statusPending,
		CreatedAt: now, ExpiresAt: now.Add(m.cfg.TTL)}
	number := newNumber()
	r.NumberMAC = m.numberMAC(r.ID, number)
	subject := u.ID
	if u.Decoy {
		// A stand-in: same page and status polling, but no device ever
		// sees it, so it can only expire. It is counted under the decoy's
		// key by the same push-bombing rules (and the same fraud-report
		// block) as a real user's push, in the same transaction, so its
		// limits and its work match a real account's.
		if subject == "" {
			subject = "decoy:" + flowID
		}
		r.UserID, r.DeviceID = subject, ""
	}
	if err := db.Transact(ctx, m.g, "push.challenge", func(tx *gorm.DB) error {
		if err := m.admit(tx, flowID, subject, now); err != nil {
			return err
		}
		return tx.Create(&r).Error
	}); err != nil {
		var rl *method.RateLimitError
		if errors.As(err, &rl) || errors.Is(err, ErrBlocked) {
			if aerr := m.recordErr(ctx, audit.Event{Type: EventRefused, UserID: subject, FlowID: flowID, IP: req.IP,
				UserAgent: req.UserAgent, Outcome: audit.Blocked, Detail: err.Error()}); aerr != nil {
				return method.Challenge{}, aerr
			}
			return method.Challenge{}, err
		}
		return method.Challenge{}, fmt.Errorf("push: challenge: %w", err)
	}
	if err := m.recordErr(ctx, audit.Event{Type: EventSent, UserID: subject, FlowID: flowID, IP: req.IP,
		UserAgent: req.UserAgent, Outcome: audit.OK, Detail: "push to " + e.Label}); err != nil {
		return method.Challenge{}, err
	}
	if !u.Decoy {
		m.wake.wake(e.ID)
		m.webPush(r)
	}
	return method.Challenge{ID: r.ID, EnrollmentID: e.ID, Method: method.Push, FlowID: flowID,
		Prompt:    method.Prompt{Kind: "number", Number: number, Poll: m.url(StatusPath + r.ID), Expires: r.ExpiresAt},
		ExpiresAt: r.ExpiresAt}, nil
}

// admit applies the push-bombing rules inside tx, with the user's account
// row locked so concurrent requests are counted one after the other
// (SQLite transactions are already exclusive).
func (m *Method) admit(tx *gorm.DB, flowID, userID string, now time.Time) error {
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&accountRow{UserID: userID}).Error; err != nil {
		return err
	}
	var a accountRow
	if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("user_id = ?", userID).Take(&a).Error; err != nil {
		return err
	}
	if a.BlockedUntil != nil && now.Before(*a.BlockedUntil) {
		return ErrBlocked
	}
	// One pending push per flow: the page already shows a number.
	var open challengeRow
	err := tx.Select("expires_at").Where("flow_id = ? AND user_id = ? AND status = ? AND expires_at > ?",
		flowID, userID, statusPending, now).Order("expires_at DESC").Take(&open).Error
	if err == nil {
		return &method.RateLimitError{RetryAfter: open.ExpiresAt.Sub(now)}
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return err
	}
	for _, lim := range []struct {
		n      int
		window time.Duration
	}{{PerWindow, Window}, {PerDay, 24 * time.Hour}} {
		since := now.Add(-lim.window)
		if a.LastSuccessAt != nil && a.LastSuccessAt.After(since) {
			since = *a.LastSuccessAt
		}
		var times []time.Time
		if err := tx.Model(&challengeRow{}).Where("user_id = ? AND created_at > ?", userID, since).
			Order("created_at").Limit(lim.n).Pluck("created_at", &times).Error; err != nil {
			return err
		}
		if len(times) >= lim.n {
			return &method.RateLimitError{RetryAfter: max(times[0].Add(lim.window).Sub(now), time.Second)}
		}
	}
	return nil
}

// Verify reports the device's decision on c: OK once for an approval with
// the right number, Pending while undecided, Dead after a wrong number, a
// denial or expiry (the flow counts those as failures).
func (m *Method) Verify(ctx context.Context, flowID string, u method.Ref, e method.Enrollment, c method.Challenge, _ method.Input) (method.Result, error) {
	now := m.now()
	if c.EnrollmentID != e.ID || c.FlowID != flowID || c.Method != method.Push {
		return method.Result{Dead: true}, nil
	}
	var r challengeRow
	err := m.g.WithContext(ctx).Where("id = ? AND flow_id = ?", c.ID, flowID).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return method.Result{Dead: true}, nil
	}
	if err != nil {
		return method.Result{}, fmt.Errorf("push: verify: %w", err)
	}
	if u.Decoy || r.UserID == "" || r.UserID != u.ID || r.DeviceID != e.ID {
		if r.Status == statusPending && now.Before(r.ExpiresAt) {
			return method.Result{Pending: true}, nil
		}
		return method.Result{Dead: true}, nil
	}
	switch r.Status {
	case statusPending:
		if now.Before(r.ExpiresAt) {
			return method.Result{Pending: true}, nil
		}
		if err := m.expire(ctx, r.ID, now); err != nil {
			return method.Result{}, err
		}
		return method.Result{Dead: true}, nil
	case statusApproved:
		if !now.Before(r.ExpiresAt.Add(VerifyGrace)) {
			return method.Result{Dead: true}, nil
		}
		g := m.g.WithContext(ctx)
		res := g.Model(&challengeRow{}).Where("id = ? AND status = ? AND used_at IS NULL", r.ID, statusApproved).Update("used_at", now)
		if res.Error != nil {
			return method.Result{}, fmt.Errorf("push: verify: %w", res.Error)
		}
		if res.RowsAffected != 1 {
			return method.Result{Dead: true}, nil
		}
		// A success restarts the push-bombing count.
		if err := g.Model(&accountRow{}).Where("user_id = ?", u.ID).Update("last_success_at", now).Error; err != nil {
			return method.Result{}, fmt.Errorf("push: verify: %w", err)
		}
		return method.Result{OK: true}, nil
	}
	return method.Result{Dead: true}, nil
}

func (m *Method) expire(ctx context.Context, id string, now time.Time) error {
	if err := m.g.WithContext(ctx).Model(&challengeRow{}).Where("id = ? AND status = ?", id, statusPending).
		Updates(map[string]any{"status": statusExpired, "decided_at": now}).Error; err != nil {
		return fmt.Errorf("push: expire: %w", err)
	}
	return nil
}

// Status is what the waiting page learns about a push: "pending",
// "decided" (the page submits and Verify tells the outcome) or "expired".
func (m *Method) Status(ctx context.Context, challengeID string) (string, error) {
	var r challengeRow
	err := m.g.WithContext(ctx).Select("status", "expires_at").Where("id = ?", challengeID).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "expired", nil
	}
	if err != nil {
		return "", fmt.Errorf("push: status: %w", err)
	}
	switch {
	case r.Status == statusPending && m.now().Before(r.ExpiresAt):
		return "pending", nil
	case r.Status == statusPending || r.Status == statusExpired:
		return "expired", nil
	}
	return "decided", nil
}

// Cleanup deletes links, challenges and nonces that expired before the
// given time, and devices whose enrollment was removed or never finished.
func (m *Method) Cleanup(ctx context.Context, before time.Time) error {
	g := m.g.WithContext(ctx)
	before = before.UTC()
	for _, q := range []struct {
		model any
		where string
	}{{&linkRow{}, "expires_at < ?"}, {&challengeRow{}, "expires_at < ?"}, {&nonceRow{}, "expires_at < ?"},
		{&deviceRow{}, "created_at < ? AND id NOT IN (SELECT id FROM sspr_methods WHERE method = 'push')"},
		{&subscriptionRow{}, "created_at < ? AND device_id NOT IN (SELECT id FROM push_devices)"}} {
		if err := g.Where(q.where, before).Delete(q.model).Error; err != nil {
			return fmt.Errorf("push: cleanup: %w", err)
		}
	}
	// A decoy's account row only anchors the limits of its pushes: once
	// they are gone it holds nothing (no success, no block) and goes too,
	// so unknown names do not accumulate rows.
	if err := g.Where("user_id LIKE ? AND user_id NOT IN (SELECT user_id FROM push_challenges WHERE user_id IS NOT NULL)", "decoy:%").
		Delete(&accountRow{}).Error; err != nil {
		return fmt.Errorf("push: cleanup: %w", err)
	}
	return nil
}

// recordErr writes an audit event (no-op without an audit log).
func (m *Method) recordErr(ctx context.Context, e audit.Event) error {
	if m.cfg.Audit == nil {
		return nil
	}
	if err := m.cfg.Audit.Record(context.WithoutCancel(ctx), e); err != nil {
		return fmt.Errorf("push: audit: %w", err)
	}
	return nil
}

func equalMAC(a, b []byte) bool { return hmac.Equal(a, b) }
