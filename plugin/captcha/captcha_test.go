package captcha_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/captcha"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/provider/clocktest"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// solution reads the digits of a builtin CAPTCHA from its token, as a
// human reads the image.
func solution(t *testing.T, v *captcha.BuiltinVerifier, id string) string {
	t.Helper()
	digits := v.Store().Get(id, false)
	if len(digits) != captcha.BuiltinDigits {
		t.Fatalf("digits of %s: %v", id, digits)
	}
	var b strings.Builder
	for _, d := range digits {
		b.WriteByte('0' + d)
	}
	return b.String()
}

func TestBuiltin(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		clk := clocktest.At(time.Now().UTC())
		b := captcha.NewBuiltin(g, captcha.WithClock(clk.Now))
		fresh := func(t *testing.T, form string) (captcha.Widget, string) {
			w, err := b.New(ctx, form)
			if err != nil {
				t.Fatal(err)
			}
			return w, solution(t, b, w.ID)
		}
		answer := func(w captcha.Widget, sol string) url.Values {
			return url.Values{captcha.FieldID: {w.ID}, captcha.FieldSolution: {sol}}
		}
		tests := []struct {
			name string
			run  func(t *testing.T, w captcha.Widget, sol string)
		}{
			{"right-once", func(t *testing.T, w captcha.Widget, sol string) {
				mustVerify(t, b, "form-1", answer(w, sol), true)
				mustVerify(t, b, "form-1", answer(w, sol), false)
			}},
			{"spaces-tolerated", func(t *testing.T, w captcha.Widget, sol string) {
				mustVerify(t, b, "form-1", answer(w, sol[:3]+" "+sol[3:]), true)
			}},
			{"wrong-spends-it", func(t *testing.T, w captcha.Widget, sol string) {
				wrong := "000000"
				if sol == wrong {
					wrong = "111111"
				}
				mustVerify(t, b, "form-1", answer(w, wrong), false)
				mustVerify(t, b, "form-1", answer(w, sol), false)
			}},
			{"bound-to-form", func(t *testing.T, w captcha.Widget, sol string) {
				mustVerify(t, b, "form-2", answer(w, sol), false)
			}},
			{"expires", func(t *testing.T, w captcha.Widget, sol string) {
				clk.Advance(captcha.BuiltinTTL + time.Second)
				mustVerify(t, b, "form-1", answer(w, sol), false)
			}},
			{"garbage", func(t *testing.T, w captcha.Widget, sol string) {
				mustVerify(t, b, "form-1", url.Values{}, false)
				mustVerify(t, b, "form-1", answer(w, "abcdef"), false)
				mustVerify(t, b, "form-1", url.Values{captcha.FieldID: {strings.Repeat("x", 1000)}, captcha.FieldSolution: {sol}}, false)
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				w, sol := fresh(t, "form-1")
				if w.Kind != captcha.Builtin || w.ImageURL != "/recover/captcha/"+w.ID+".png" || w.AudioURL != "/recover/captcha/"+w.ID+".wav" {
					t.Fatalf("widget %+v", w)
				}
				tt.run(t, w, sol)
			})
		}
		// Showing the form writes nothing; only a checked answer leaves a
		// row (the spent token), which Cleanup removes after expiry.
		t.Run("showing-writes-no-row", func(t *testing.T) {
			count := func() (n int64) {
				if err := g.Table("sspr_captchas").Count(&n).Error; err != nil {
					t.Fatal(err)
				}
				return n
			}
			before := count()
			var last captcha.Widget
			for range 100 {
				last, _ = fresh(t, "form-many")
			}
			if n := count() - before; n != 0 {
				t.Fatalf("100 CAPTCHAs shown wrote %d rows", n)
			}
			mustVerify(t, b, "form-many", answer(last, "000000"), false)
			if n := count() - before; n != 1 {
				t.Fatalf("one checked answer wrote %d rows", n)
			}
			clk.Advance(captcha.BuiltinTTL + time.Second)
			if _, err := b.Cleanup(ctx, clk.Now()); err != nil {
				t.Fatal(err)
			}
			if n := count(); n != 0 {
				t.Fatalf("%d rows after cleanup", n)
			}
		})
		t.Run("concurrent-solutions-pass-once", func(t *testing.T) {
			w, sol := fresh(t, "form-c")
			var ok atomic.Int32
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					if good, err := b.Verify(ctx, "form-c", answer(w, sol), ""); err != nil {
						t.Error(err)
					} else if good {
						ok.Add(1)
					}
				})
			}
			wg.Wait()
			if ok.Load() != 1 {
				t.Fatalf("%d of 20 concurrent submissions passed", ok.Load())
			}
		})
		t.Run("image-and-audio", func(t *testing.T) {
			w, _ := fresh(t, "form-img")
			srv := httptest.NewServer(b.Handler())
			defer srv.Close()
			for _, c := range []struct{ path, ctype, magic string }{{w.ImageURL, "image/png", "\x89PNG"}, {w.AudioURL, "audio/x-wav", "RIFF"}} {
				resp, err := http.Get(srv.URL + c.path)
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				buf.ReadFrom(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != c.ctype || !strings.HasPrefix(buf.String(), c.magic) || resp.Header.Get("Cache-Control") != "no-store" {
					t.Fatalf("%s: %d %s %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), buf.String()[:4])
				}
			}
			for _, p := range []string{"/recover/captcha/NOPE.png", "/recover/captcha/" + w.ID + ".gif", "/recover/captcha/"} {
				resp, _ := http.Get(srv.URL + p)
				resp.Body.Close()
				if resp.StatusCode != 404 {
					t.Fatalf("%s: %d, want 404", p, resp.StatusCode)
				}
			}
		})
		t.Run("dchest-store-adapter", func(t *testing.T) {
			s := b.Store()
			s.Set("adapter-id", []byte{1, 2, 3, 4, 5, 6})
			if got := s.Get("adapter-id", true); !bytes.Equal(got, []byte{1, 2, 3, 4, 5, 6}) {
				t.Fatalf("Get = %v", got)
			}
			if got := s.Get("adapter-id", false); got != nil {
				t.Fatalf("Get after clear = %v", got)
			}
		})
	})
}

func mustVerify(t *testing.T, v captcha.Verifier, form string, vals url.Values, want bool) {
	t.Helper()
	got, err := v.Verify(t.Context(), form, vals, "192.0.2.1")
	if err != nil || got != want {
		t.Fatalf("Verify = %v, %v; want %v", got, err, want)
	}
}

// siteverify is a loopback stand-in for the hCaptcha/Turnstile API: each
// token passes once.
func siteverify(t *testing.T, secret string) (*httptest.Server, *sync.Map) {
	used := &sync.Map{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.ParseForm() != nil {
			http.Error(w, "bad", 400)
			return
		}
		resp := map[string]any{"success": false}
		tok := r.PostForm.Get("response")
		_, dup := used.LoadOrStore(tok, true)
		if r.PostForm.Get("secret") == secret && strings.HasPrefix(tok, "good") && !dup && r.PostForm.Get("remoteip") == "192.0.2.1" {
			resp["success"] = true
			resp["cdata"] = strings.TrimPrefix(tok, "good:")
		}
		if tok == "server-error" {
			http.Error(w, "oops", 500)
			return
		}
		json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(srv.Close)
	return srv, used
}

func TestSiteVerify(t *testing.T) {
	for _, kind := range []captcha.Kind{captcha.HCaptcha, captcha.Turnstile} {
		t.Run(string(kind), func(t *testing.T) {
			srv, _ := siteverify(t, "sekrit")
			v, err := captcha.NewSiteVerify(kind, "site-key", "sekrit", srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			w, _ := v.New(t.Context(), "form-1")
			if w.SiteKey != "site-key" || w.ScriptURL == "" || w.Field == "" {
				t.Fatalf("widget %+v", w)
			}
			tok := "good:" + captcha.CData("form-1")
			mustVerify(t, v, "form-1", url.Values{w.Field: {tok}}, true)
			mustVerify(t, v, "form-1", url.Values{w.Field: {tok}}, false) // reused
			mustVerify(t, v, "form-1", url.Values{w.Field: {"bad"}}, false)
			mustVerify(t, v, "form-1", url.Values{}, false)
			if kind == captcha.Turnstile {
				// A token solved for another form instance.
				mustVerify(t, v, "form-1", url.Values{w.Field: {"good:" + captcha.CData("form-2")}}, false)
			}
			if _, err := v.Verify(t.Context(), "form-1", url.Values{w.Field: {"server-error"}}, "192.0.2.1"); err == nil {
				t.Fatal("siteverify 500 not reported")
			}
		})
	}
}

func TestFromConfig(t *testing.T) {
	tests := []struct {
		name string
		c    captcha.Config
		kind captcha.Kind
		err  bool
	}{
		{"default-builtin", captcha.Config{}, captcha.Builtin, false},
		{"off-in-dev", captcha.Config{Kind: captcha.Off, Dev: true}, captcha.Off, false},
		{"off-refused-in-production", captcha.Config{Kind: captcha.Off}, "", true},
		{"hcaptcha-needs-keys", captcha.Config{Kind: captcha.HCaptcha}, "", true},
		{"turnstile", captcha.Config{Kind: captcha.Turnstile, SiteKey: "k", Secret: "s"}, captcha.Turnstile, false},
		{"bad-verify-url", captcha.Config{Kind: captcha.HCaptcha, SiteKey: "k", Secret: "s", VerifyURL: "ftp://x"}, "", true},
		{"unknown", captcha.Config{Kind: "recaptcha"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := captcha.FromConfig(tt.c, nil)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				if !errors.Is(err, captcha.ErrConfig) {
					t.Fatalf("err = %v, want ErrConfig", err)
				}
				return
			}
			if v.Kind() != tt.kind {
				t.Fatalf("kind %s", v.Kind())
			}
		})
	}
}

// TestBuiltinAgain: a page shown again gets its own live CAPTCHA back
// (the same id, picture and sound), but not another form's, a spent or an
// expired one.
func TestBuiltinAgain(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		clk := clocktest.At(time.Now().UTC())
		b := captcha.NewBuiltin(g, captcha.WithClock(clk.Now))
		w, err := b.New(ctx, "form-1")
		if err != nil {
			t.Fatal(err)
		}
		spent, _ := b.New(ctx, "form-1")
		if _, err := b.Verify(ctx, "form-1", url.Values{captcha.FieldID: {spent.ID}, captcha.FieldSolution: {"000000"}}, ""); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, form, id string
			advance        time.Duration
			want           bool
		}{
			{"live", "form-1", w.ID, 0, true},
			{"other-form", "form-2", w.ID, 0, false},
			{"spent", "form-1", spent.ID, 0, false},
			{"not-a-token", "form-1", "abc", 0, false},
			{"expired", "form-1", w.ID, captcha.BuiltinTTL, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				clk.Advance(tc.advance)
				got, ok, err := b.Again(ctx, tc.form, tc.id)
				if err != nil || ok != tc.want {
					t.Fatalf("Again = %v, %v; want %v", ok, err, tc.want)
				}
				if ok && (got.ID != w.ID || got.ImageURL != w.ImageURL || got.AudioURL != w.AudioURL || got.Digits != captcha.BuiltinDigits) {
					t.Errorf("Again = %+v, want %+v", got, w)
				}
			})
		}
	})
}
