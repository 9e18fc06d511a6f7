package captcha

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	dchest "github.com/dchest/captcha"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/secret"
)

// Builtin parameters.
const (
	BuiltinDigits = 6
	BuiltinTTL    = 10 * time.Minute
	ImageWidth    = dchest.StdWidth
	ImageHeight   = dchest.StdHeight
	// FieldID and FieldSolution are the builtin form fields.
	FieldID       = "captcha_id"
	FieldSolution = "captcha"
)

// maxID bounds a CAPTCHA id: a sealed token (about 67 characters) or an
// id made through Store.
const maxID = 128

// row is the live model of sspr_captchas (frozen copy: plugin/schema). A
// CAPTCHA shown on a form is a sealed token and writes nothing; a row is
// written only when an answer is checked (ID = hash of the token, so it
// is spent once), or by Store.Set.
type row struct {
	ID        string     `gorm:"primaryKey;size:32"`
	FormID    string     `gorm:"size:64;not null"`
	Digits    []byte     `gorm:"type:blob;not null"`
	CreatedAt time.Time  `gorm:"precision:6;not null"`
	ExpiresAt time.Time  `gorm:"precision:6;not null;index"`
	UsedAt    *time.Time `gorm:"precision:6"`
}

func (row) TableName() string { return "sspr_captchas" }

// BuiltinVerifier draws distorted digits with github.com/dchest/captcha, with a
// spoken alternative. A CAPTCHA is a token sealed under the deployment's
// secret (its digits, expiry and form binding), so showing the form writes
// nothing and any instance can serve the image; checking an answer spends
// the token with one row, kept until it expires. Each CAPTCHA is checked
// once, expires after BuiltinTTL and is bound to one form instance.
type BuiltinVerifier struct {
	g      *gorm.DB
	box    *secret.Box
	now    func() time.Time
	prefix string
	lang   string
	// renders bounds concurrent image/audio generation (CPU-heavy), so a
	// flood of requests for a live id cannot starve the server.
	renders chan struct{}
}

var _ Verifier = (*BuiltinVerifier)(nil)

// BuiltinOption configures Builtin.
type BuiltinOption func(*BuiltinVerifier)

// WithClock injects the clock (tests).
func WithClock(now func() time.Time) BuiltinOption { return func(b *BuiltinVerifier) { b.now = now } }

// WithPrefix sets the path the image and audio are served under (default
// "/recover/captcha").
func WithPrefix(p string) BuiltinOption {
	return func(b *BuiltinVerifier) { b.prefix = strings.TrimRight(p, "/") }
}

// WithKeyring seals tokens under k, so every instance sharing the
// secret accepts them (without it a random key is used: one instance only).
func WithKeyring(k *secret.Keyring) BuiltinOption {
	return func(b *BuiltinVerifier) { b.box = k.Box("captcha-builtin") }
}

// WithLanguage sets the audio language ("en", "de", "ru", "zh", "ja").
func WithLanguage(l string) BuiltinOption { return func(b *BuiltinVerifier) { b.lang = l } }

// NewBuiltin returns the builtin verifier on g.
func NewBuiltin(g *gorm.DB, opts ...BuiltinOption) *BuiltinVerifier {
	b := &BuiltinVerifier{g: g, now: func() time.Time { return time.Now().UTC() }, prefix: "/recover/captcha", lang: "en",
		renders: make(chan struct{}, 8)}
	for _, o := range opts {
		o(b)
	}
	if b.box == nil {
		k, err := secret.Parse(secret.Generate())
		if err != nil {
			panic(fmt.Sprintf("captcha: %v", err)) // a generated secret always parses
		}
		b.box = k.Box("captcha-builtin")
	}
	return b
}

var tokenAAD = []byte("captcha-builtin")

// token is what a CAPTCHA id carries, sealed.
type token struct {
	digits  []byte
	expires time.Time
	form    [8]byte
}

func formHash(formID string) [8]byte {
	sum := sha256.Sum256([]byte("captcha-form|" + formID))
	return [8]byte(sum[:8])
}

func (b *BuiltinVerifier) seal(t token) string {
	plain := make([]byte, 0, len(t.digits)+16)
	plain = append(plain, t.digits...)
	plain = binary.BigEndian.AppendUint64(plain, uint64(t.expires.UnixMilli()))
	plain = append(plain, t.form[:]...)
	return base64.RawURLEncoding.EncodeToString(b.box.Seal(plain, tokenAAD))
}

// open reads a token id; ok is false for anything not made by seal.
func (b *BuiltinVerifier) open(id string) (token, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(id) > maxID {
		return token{}, false
	}
	plain, err := b.box.Open(raw, tokenAAD)
	if err != nil || len(plain) != BuiltinDigits+16 {
		return token{}, false
	}
	ms := binary.BigEndian.Uint64(plain[BuiltinDigits:])
	t := token{digits: plain[:BuiltinDigits], expires: time.UnixMilli(int64(ms)).UTC()} // #nosec G115 -- sealed by us from a positive UnixMilli, so it fits an int64
	copy(t.form[:], plain[BuiltinDigits+8:])
	return t, true
}

// spentID is the row id that marks token id spent.
func spentID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

// spend marks token id spent; false when it already was.
func (b *BuiltinVerifier) spend(ctx context.Context, id, formID string, exp time.Time) (bool, error) {
	now := b.now().UTC()
	err := b.g.WithContext(ctx).Create(&row{ID: spentID(id), FormID: formID, Digits: []byte{}, CreatedAt: now, ExpiresAt: exp, UsedAt: &now}).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("captcha: spend: %w", err)
	}
	return true, nil
}

// Kind implements Verifier.
func (b *BuiltinVerifier) Kind() Kind { return Builtin }

// New makes a CAPTCHA for formID. It writes nothing: showing the form
// to anyone, any number of times, does not grow the database.
func (b *BuiltinVerifier) New(ctx context.Context, formID string) (Widget, error) {
	if formID == "" || len(formID) > 64 {
		return Widget{}, fmt.Errorf("captcha: new: bad form id")
	}
	id := b.seal(token{digits: dchest.RandomDigits(BuiltinDigits), expires: b.now().UTC().Add(BuiltinTTL), form: formHash(formID)})
	return b.widget(id), nil
}

// Verify checks the typed digits. The CAPTCHA is spent by the first check,
// right or wrong, with one INSERT on the token's hash, so a solution works
// once even when submitted concurrently.
func (b *BuiltinVerifier) Verify(ctx context.Context, formID string, form url.Values, _ string) (bool, error) {
	id, sol := form.Get(FieldID), form.Get(FieldSolution)
	if formID == "" || id == "" || len(id) > maxID || sol == "" || len(sol) > 64 {
		return false, nil
	}
	t, ok := b.open(id)
	if !ok || !b.now().UTC().Before(t.expires) || subtle.ConstantTimeCompare(t.form[:], func() []byte { h := formHash(formID); return h[:] }()) != 1 {
		return false, nil
	}
	first, err := b.spend(ctx, id, formID, t.expires)
	if err != nil || !first {
		return false, err
	}
	typed := parseDigits(sol)
	return len(typed) == len(t.digits) && subtle.ConstantTimeCompare(typed, t.digits) == 1, nil
}

// parseDigits turns "12 34-56" into {1,2,3,4,5,6}; any other character
// makes the answer wrong.
func parseDigits(s string) []byte {
	var out []byte
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			out = append(out, byte(c-'0'))
		case c == ' ' || c == '-':
		default:
			return nil
		}
	}
	return out
}

// Prefix is the path Handler serves under (WithPrefix).
func (b *BuiltinVerifier) Prefix() string { return b.prefix }

// Handler serves PREFIX/ID.png (the image) and PREFIX/ID.wav (the audio)
// of a live CAPTCHA; anything else is 404.
func (b *BuiltinVerifier) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		base := path.Base(r.URL.Path)
		ext := path.Ext(base)
		id := strings.TrimSuffix(base, ext)
		if (ext != ".png" && ext != ".wav") || id == "" || len(id) > maxID {
			http.NotFound(w, r)
			return
		}
		digits, err := b.live(r.Context(), id)
		if err != nil {
			if errors.Is(err, errGone) {
				http.NotFound(w, r)
				return
			}
			http.Error(w, "captcha unavailable", http.StatusServiceUnavailable)
			return
		}
		select {
		case b.renders <- struct{}{}:
			defer func() { <-b.renders }()
		case <-r.Context().Done():
			return
		case <-time.After(5 * time.Second):
			w.Header().Set("Retry-After", "2")
			http.Error(w, "busy, try again", http.StatusServiceUnavailable)
			return
		}
		var buf bytes.Buffer
		if ext == ".png" {
			w.Header().Set("Content-Type", "image/png")
			_, err = dchest.NewImage(id, digits, ImageWidth, ImageHeight).WriteTo(&buf)
		} else {
			w.Header().Set("Content-Type", "audio/x-wav")
			_, err = dchest.NewAudio(id, digits, b.lang).WriteTo(&buf)
		}
		if err != nil {
			http.Error(w, "captcha unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		_, _ = buf.WriteTo(w)
	})
}

var errGone = errors.New("captcha: not found")

func (b *BuiltinVerifier) live(ctx context.Context, id string) ([]byte, error) {
	if t, ok := b.open(id); ok {
		if !b.now().UTC().Before(t.expires) {
			return nil, errGone
		}
		var n int64
		if err := b.g.WithContext(ctx).Model(&row{}).Where("id = ?", spentID(id)).Count(&n).Error; err != nil {
			return nil, fmt.Errorf("captcha: %w", err)
		}
		if n > 0 {
			return nil, errGone
		}
		return t.digits, nil
	}
	if len(id) > 32 {
		return nil, errGone
	}
	var r row
	err := b.g.WithContext(ctx).Where("id = ? AND used_at IS NULL AND expires_at > ?", id, b.now().UTC()).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, errGone
	}
	if err != nil {
		return nil, fmt.Errorf("captcha: %w", err)
	}
	return r.Digits, nil
}

// Cleanup deletes CAPTCHAs that expired before the given time.
func (b *BuiltinVerifier) Cleanup(ctx context.Context, before time.Time) (int64, error) {
	res := b.g.WithContext(ctx).Where("expires_at < ?", before.UTC()).Delete(&row{})
	return res.RowsAffected, res.Error
}

// Store adapts the table to dchest/captcha's Store interface, for code
// that uses the library's own helpers. Set has no form binding (form
// ""); Get with clear spends the CAPTCHA.
type Store struct{ b *BuiltinVerifier }

var _ dchest.Store = Store{}

// Store returns the dchest/captcha store view of b.
func (b *BuiltinVerifier) Store() Store { return Store{b} }

// Set implements dchest.Store.
func (s Store) Set(id string, digits []byte) {
	now := s.b.now().UTC()
	_ = s.b.g.Create(&row{ID: id, Digits: digits, CreatedAt: now, ExpiresAt: now.Add(BuiltinTTL)}).Error
}

// Get implements dchest.Store.
func (s Store) Get(id string, clear bool) []byte {
	d, err := s.b.live(context.Background(), id)
	if err != nil {
		return nil
	}
	if t, ok := s.b.open(id); ok {
		if clear {
			if first, err := s.b.spend(context.Background(), id, "", t.expires); err != nil || !first {
				return nil
			}
		}
		return d
	}
	if clear {
		now := s.b.now().UTC()
		res := s.b.g.Model(&row{}).Where("id = ? AND used_at IS NULL", id).Update("used_at", now)
		if res.Error != nil || res.RowsAffected != 1 {
			return nil
		}
	}
	return d
}

// Again returns the widget of the CAPTCHA id made for formID, when it is
// still live (sealed by this verifier, for this form, not expired, not
// spent): a page shown again (Back, reload) keeps the picture and sound
// the person already read or heard. ok is false otherwise.
func (b *BuiltinVerifier) Again(ctx context.Context, formID, id string) (w Widget, ok bool, err error) {
	t, open := b.open(id)
	if !open || formID == "" {
		return Widget{}, false, nil
	}
	if h := formHash(formID); subtle.ConstantTimeCompare(t.form[:], h[:]) != 1 {
		return Widget{}, false, nil
	}
	if _, err := b.live(ctx, id); err != nil {
		if errors.Is(err, errGone) {
			return Widget{}, false, nil
		}
		return Widget{}, false, err
	}
	return b.widget(id), true, nil
}

func (b *BuiltinVerifier) widget(id string) Widget {
	return Widget{Kind: Builtin, ID: id, ImageURL: b.prefix + "/" + id + ".png", AudioURL: b.prefix + "/" + id + ".wav",
		Field: FieldSolution, Digits: BuiltinDigits}
}
