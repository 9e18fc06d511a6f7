package totp

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// RFC 6238 parameters every common authenticator app supports.
const (
	Period     = 30 // seconds
	Digits     = 6
	SecretSize = 20 // bytes: 160 bits (RFC 4226 §4, NIST 800-63B)
	Skew       = 1  // steps accepted either side of now
	// FieldCode is the form field of a code.
	FieldCode = "code"
	// EnrollTTL is how long a shown secret may be confirmed.
	EnrollTTL = 10 * time.Minute
)

// Method is the authenticator-app method.
type Method struct {
	store  *method.Store
	box    *secret.Box
	issuer string
	now    func() time.Time
}

var _ method.Method = (*Method)(nil)

// Option configures the method.
type Option func(*Method)

// WithClock injects the clock (tests).
func WithClock(now func() time.Time) Option { return func(m *Method) { m.now = now } }

// New returns the method. issuer is the name authenticator apps show
// beside the account ("Latchkey", or the organisation's name).
func New(store *method.Store, keys *secret.Keyring, issuer string, opts ...Option) *Method {
	m := &Method{store: store, box: keys.Box("method/totp"), issuer: issuer, now: func() time.Time { return time.Now().UTC() }}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Name implements method.Method.
func (m *Method) Name() method.Name { return method.TOTP }

// Describe says how an authenticator app's codes show on the pages.
func (m *Method) Describe() method.Info {
	return method.Info{Rank: 10, AddTitle: "Authenticator app",
		Titles: map[string]string{"": "Enter a code from your authenticator app"}, App: true, AMR: "otp", Decoy: true,
		DecoyLabel: "Authenticator app"}
}

// Channel implements method.Method.
func (m *Method) Channel(method.Enrollment) method.Channel { return method.ChannelApp }

type stored struct {
	ID     string `json:"id,omitempty"`
	Secret string `json:"secret"` // base32, as apps take it
}

func aadPending(flowID, userID string) []byte { return []byte("pending|" + flowID + "|" + userID) }

// Begin makes a new seed and shows it as a QR code and as text.
func (m *Method) Begin(ctx context.Context, flowID string, u method.Ref, _ method.Input) (method.Pending, error) {
	account := u.Username
	if account == "" {
		account = u.ID
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: m.issuer, AccountName: account, Period: Period,
		SecretSize: SecretSize, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Rand: rand.Reader})
	if err != nil {
		return method.Pending{}, fmt.Errorf("totp: begin: %w", err)
	}
	png, err := qrcode.Encode(key.URL(), qrcode.Medium, 256)
	if err != nil {
		return method.Pending{}, fmt.Errorf("totp: qr code: %w", err)
	}
	st := stored{ID: rand.Text(), Secret: key.Secret()}
	plain, _ := json.Marshal(st) // #nosec G117 -- the JSON is sealed (encrypted) before it leaves this function
	return method.Pending{
		Method: method.TOTP, Label: "Authenticator app",
		Prompt: method.Prompt{Kind: "totp", Digits: Digits, Secret: key.Secret(), OTPAuthURI: key.URL(),
			QRCode: "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)},
		State: m.box.Seal(plain, aadPending(flowID, u.ID)), ExpiresAt: m.now().UTC().Add(EnrollTTL),
	}, nil
}

// Finish checks the first code from the app.
func (m *Method) Finish(ctx context.Context, flowID string, u method.Ref, p method.Pending, answer method.Input) (method.Enrollment, method.Result, error) {
	plain, err := m.box.Open(p.State, aadPending(flowID, u.ID))
	var st stored
	if err == nil {
		err = json.Unmarshal(plain, &st)
	}
	if err != nil || st.Secret == "" {
		return method.Enrollment{}, method.Result{Dead: true}, nil
	}
	if !m.now().Before(p.ExpiresAt) {
		return method.Enrollment{}, method.Result{Dead: true}, nil
	}
	step, ok := match(st.Secret, answer[FieldCode], m.now())
	if !ok {
		return method.Enrollment{}, method.Result{}, nil
	}
	data, _ := json.Marshal(stored{Secret: st.Secret}) // #nosec G117 -- the JSON is sealed (encrypted) before it is stored
	// Counter starts at the step just used, so that code cannot be used
	// again for a recovery.
	return method.Enrollment{ID: st.ID, UserID: u.ID, Method: method.TOTP, Label: "Authenticator app",
		Data: m.box.Seal(data, []byte(st.ID)), Counter: step}, method.Result{OK: true}, nil
}

// Challenge asks for the current code; nothing is sent.
func (m *Method) Challenge(ctx context.Context, flowID string, u method.Ref, e method.Enrollment) (method.Challenge, error) {
	if !u.Decoy && (e.UserID != u.ID || e.Method != method.TOTP) {
		return method.Challenge{}, method.ErrNotFound
	}
	return method.Challenge{ID: rand.Text(), EnrollmentID: e.ID, Method: method.TOTP, FlowID: flowID,
		Prompt: method.Prompt{Kind: "totp", Digits: Digits}, ExpiresAt: m.now().UTC().Add(method.CodeTTL)}, nil
}

// Verify accepts a code of the current step ±1 that is newer than the last
// accepted one. The step moves forward with one conditional UPDATE, so of
// concurrent requests with the same code exactly one passes; the others
// (and any later reuse) are reported as replays.
func (m *Method) Verify(ctx context.Context, flowID string, u method.Ref, e method.Enrollment, c method.Challenge, answer method.Input) (method.Result, error) {
	now := m.now()
	if c.EnrollmentID != e.ID || c.FlowID != flowID || !now.Before(c.ExpiresAt) {
		return method.Result{Dead: true}, nil
	}
	if u.Decoy || e.UserID != u.ID {
		match(decoySecret, answer[FieldCode], now) // same work, never a match that counts
		return method.Result{}, nil
	}
	secretB32, err := m.seed(e)
	if err != nil {
		return method.Result{}, err
	}
	step, ok := match(secretB32, answer[FieldCode], now)
	if !ok {
		return method.Result{}, nil
	}
	advanced, err := m.store.Advance(ctx, e.ID, step)
	if err != nil {
		return method.Result{}, fmt.Errorf("totp: verify: %w", err)
	}
	if !advanced {
		return method.Result{Replay: true}, nil
	}
	return method.Result{OK: true}, nil
}

func (m *Method) seed(e method.Enrollment) (string, error) {
	plain, err := m.box.Open(e.Data, []byte(e.ID))
	if err != nil {
		return "", fmt.Errorf("totp: open seed: %w", err)
	}
	var st stored
	if err := json.Unmarshal(plain, &st); err != nil || st.Secret == "" {
		return "", fmt.Errorf("totp: open seed: bad data")
	}
	return st.Secret, nil
}

// decoySecret keeps the decoy path's work equal to a real check.
const decoySecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" // #nosec G101 -- a public decoy that never unlocks anything; only its cost matters

// match returns the step (Unix time / Period) whose code equals code,
// trying now-Skew..now+Skew; every step is computed so timing does not
// depend on which one matched.
func match(secretB32, code string, now time.Time) (int64, bool) {
	code = method.NormalizeCode(code)
	cur := now.Unix() / Period
	var found int64
	ok := 0
	for d := int64(-Skew); d <= Skew; d++ {
		step := cur + d
		want, err := totp.GenerateCodeCustom(secretB32, time.Unix(step*Period, 0).UTC(), totp.ValidateOpts{
			Period: Period, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil || len(code) != Digits {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && ok == 0 {
			found, ok = step, 1
		}
	}
	return found, ok == 1
}

// Code returns the code of secretB32 at t (tests and the bundled
// authenticator command).
func Code(secretB32 string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secretB32, t, totp.ValidateOpts{Period: Period, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}
