package captcha

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	dchest "github.com/dchest/captcha"
	"gorm.io/gorm"
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

// row is the live model of sspr_captchas (frozen copy: plugin/schema).
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
// spoken alternative. Its state lives in the database (any instance can
// serve the image and check the answer), each CAPTCHA is checked once,
// expires after BuiltinTTL and is bound to one form instance.
type BuiltinVerifier struct {
	g      *gorm.DB
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

// WithLanguage sets the audio language ("en", "de", "ru", "zh", "ja").
func WithLanguage(l string) BuiltinOption { return func(b *BuiltinVerifier) { b.lang = l } }

// NewBuiltin returns the builtin verifier on g.
func NewBuiltin(g *gorm.DB, opts ...BuiltinOption) *BuiltinVerifier {
	b := &BuiltinVerifier{g: g, now: func() time.Time { return time.Now().UTC() }, prefix: "/recover/captcha", lang: "en",
		renders: make(chan struct{}, 8)}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Kind implements Verifier.
func (b *BuiltinVerifier) Kind() Kind { return Builtin }

// New makes a CAPTCHA for formID.
func (b *BuiltinVerifier) New(ctx context.Context, formID string) (Widget, error) {
	if formID == "" || len(formID) > 64 {
		return Widget{}, fmt.Errorf("captcha: new: bad form id")
	}
	now := b.now().UTC()
	r := row{ID: rand.Text(), FormID: formID, Digits: dchest.RandomDigits(BuiltinDigits), CreatedAt: now, ExpiresAt: now.Add(BuiltinTTL)}
	if err := b.g.WithContext(ctx).Create(&r).Error; err != nil {
		return Widget{}, fmt.Errorf("captcha: new: %w", err)
	}
	return Widget{Kind: Builtin, ID: r.ID, ImageURL: b.prefix + "/" + r.ID + ".png", AudioURL: b.prefix + "/" + r.ID + ".wav", Field: FieldSolution}, nil
}

// Verify checks the typed digits. The CAPTCHA is spent by the first check,
// right or wrong, with one conditional UPDATE, so a solution works once
// even when submitted concurrently.
func (b *BuiltinVerifier) Verify(ctx context.Context, formID string, form url.Values, _ string) (bool, error) {
	id, sol := form.Get(FieldID), form.Get(FieldSolution)
	if formID == "" || id == "" || len(id) > 32 || sol == "" || len(sol) > 64 {
		return false, nil
	}
	now := b.now().UTC()
	g := b.g.WithContext(ctx)
	res := g.Model(&row{}).Where("id = ? AND form_id = ? AND used_at IS NULL AND expires_at > ?", id, formID, now).Update("used_at", now)
	if res.Error != nil {
		return false, fmt.Errorf("captcha: verify: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return false, nil
	}
	var r row
	if err := g.Select("digits").Where("id = ?", id).Take(&r).Error; err != nil {
		return false, fmt.Errorf("captcha: verify: %w", err)
	}
	typed := parseDigits(sol)
	return len(typed) == len(r.Digits) && subtle.ConstantTimeCompare(typed, r.Digits) == 1, nil
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
		if (ext != ".png" && ext != ".wav") || id == "" || len(id) > 32 {
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
	if clear {
		now := s.b.now().UTC()
		res := s.b.g.Model(&row{}).Where("id = ? AND used_at IS NULL", id).Update("used_at", now)
		if res.Error != nil || res.RowsAffected != 1 {
			return nil
		}
	}
	return d
}
