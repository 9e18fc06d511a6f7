package totp_test

import (
	"encoding/base32"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/methodtest"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/secret"
)

type fixture struct {
	m     *totp.Method
	store *method.Store
	clk   *methodtest.Clock
}

func setup(t *testing.T, g *gorm.DB) fixture {
	keys, _ := secret.Parse(secret.Generate())
	clk := methodtest.NewClock()
	store := method.NewStore(g, method.WithStoreClock(clk.Now))
	return fixture{m: totp.New(store, keys, "Latchkey", totp.WithClock(clk.Now)), store: store, clk: clk}
}

func code(t *testing.T, secretB32 string, at time.Time) string {
	t.Helper()
	c, err := totp.Code(secretB32, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// register enrolls a TOTP method and returns it with its seed.
func register(t *testing.T, f fixture, u method.Ref) (method.Enrollment, string) {
	t.Helper()
	p, err := f.m.Begin(t.Context(), "reg", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	e, res, err := f.m.Finish(t.Context(), "reg", u, p, method.Input{"code": code(t, p.Prompt.Secret, f.clk.Now())})
	if err != nil || !res.OK {
		t.Fatal(res, err)
	}
	if err := f.store.Add(t.Context(), &e, 0); err != nil {
		t.Fatal(err)
	}
	return e, p.Prompt.Secret
}

func TestBehaviour(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g)
		var seed string
		methodtest.Run(t, methodtest.Harness{
			Method: f.m, Store: f.store, User: method.Ref{ID: "user-1", Username: "alice"},
			Confirm: func(t *testing.T, p method.Pending) method.Input {
				seed = p.Prompt.Secret
				return method.Input{"code": code(t, seed, f.clk.Now())}
			},
			Right: func(t *testing.T, _ method.Enrollment, _ method.Challenge) method.Input {
				f.clk.Advance(30 * time.Second) // a fresh step for each use
				return method.Input{"code": code(t, seed, f.clk.Now())}
			},
			Wrong: func(t *testing.T, _ method.Challenge) method.Input {
				c := code(t, seed, f.clk.Now().Add(10*time.Minute))
				return method.Input{"code": c}
			},
			Advance: f.clk.Advance, Expiry: method.CodeTTL,
		})
	})
}

func TestEnrollment(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g)
		p, err := f.m.Begin(t.Context(), "reg", method.Ref{ID: "u", Username: "alice"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(p.Prompt.Secret)
		if err != nil || len(raw)*8 < 160 {
			t.Fatalf("seed %q: %d bits, %v", p.Prompt.Secret, len(raw)*8, err)
		}
		u, err := url.Parse(p.Prompt.OTPAuthURI)
		if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
			t.Fatalf("otpauth URI %q", p.Prompt.OTPAuthURI)
		}
		q := u.Query()
		if q.Get("secret") != p.Prompt.Secret || q.Get("issuer") != "Latchkey" || q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
			t.Fatalf("otpauth query %v", q)
		}
		if !strings.HasPrefix(p.Prompt.QRCode, "data:image/png;base64,") {
			t.Fatalf("QR %q", p.Prompt.QRCode[:30])
		}
		if strings.Contains(string(p.State), p.Prompt.Secret) {
			t.Fatal("pending state holds the seed in clear")
		}
		// Expired enrollment cannot be confirmed.
		f.clk.Advance(totp.EnrollTTL + time.Second)
		_, res, _ := f.m.Finish(t.Context(), "reg", method.Ref{ID: "u"}, p, method.Input{"code": code(t, p.Prompt.Secret, f.clk.Now())})
		if res.OK {
			t.Fatal("stale enrollment confirmed")
		}
	})
}

func TestSkewAndReplay(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		tests := []struct {
			name  string
			at    time.Duration // code time relative to now
			want  method.Result
			first bool // use a fresh enrollment
		}{
			{"current-step", 0, method.Result{OK: true}, true},
			{"one-step-early", -30 * time.Second, method.Result{OK: true}, true},
			{"one-step-late", 30 * time.Second, method.Result{OK: true}, true},
			{"two-steps-early", -60 * time.Second, method.Result{}, true},
			{"two-steps-late", 60 * time.Second, method.Result{}, true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := setup(t, g)
				u := method.Ref{ID: "u-" + tt.name}
				e, seed := register(t, f, u)
				f.clk.Advance(5 * time.Minute)
				c, _ := f.m.Challenge(ctx, "flow", u, e)
				res, err := f.m.Verify(ctx, "flow", u, e, c, method.Input{"code": code(t, seed, f.clk.Now().Add(tt.at))})
				if err != nil || res != tt.want {
					t.Fatalf("Verify = %+v, %v; want %+v", res, err, tt.want)
				}
			})
		}
		t.Run("registration-code-cannot-be-reused", func(t *testing.T) {
			f := setup(t, g)
			u := method.Ref{ID: "u-reg"}
			e, seed := register(t, f, u)
			c, _ := f.m.Challenge(ctx, "flow", u, e)
			res, _ := f.m.Verify(ctx, "flow", u, e, c, method.Input{"code": code(t, seed, f.clk.Now())})
			if res.OK || !res.Replay {
				t.Fatalf("registration code reused: %+v", res)
			}
		})
		t.Run("earlier-step-than-last-fails-as-replay", func(t *testing.T) {
			f := setup(t, g)
			u := method.Ref{ID: "u-earlier"}
			e, seed := register(t, f, u)
			f.clk.Advance(5 * time.Minute)
			c, _ := f.m.Challenge(ctx, "flow", u, e)
			if res, _ := f.m.Verify(ctx, "flow", u, e, c, method.Input{"code": code(t, seed, f.clk.Now().Add(30*time.Second))}); !res.OK {
				t.Fatal("next-step code refused")
			}
			res, _ := f.m.Verify(ctx, "flow", u, e, c, method.Input{"code": code(t, seed, f.clk.Now())})
			if res.OK || !res.Replay {
				t.Fatalf("earlier step after a later one: %+v, want replay", res)
			}
		})
		t.Run("concurrent-same-code-passes-once", func(t *testing.T) {
			f := setup(t, g)
			u := method.Ref{ID: "u-conc"}
			e, seed := register(t, f, u)
			f.clk.Advance(time.Minute)
			c, _ := f.m.Challenge(ctx, "flow", u, e)
			ans := method.Input{"code": code(t, seed, f.clk.Now())}
			var ok, replay atomic.Int32
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					res, err := f.m.Verify(ctx, "flow", u, e, c, ans)
					if err != nil {
						t.Error(err)
					}
					if res.OK {
						ok.Add(1)
					}
					if res.Replay {
						replay.Add(1)
					}
				})
			}
			wg.Wait()
			if ok.Load() != 1 || replay.Load() != 19 {
				t.Fatalf("ok=%d replay=%d, want 1 and 19", ok.Load(), replay.Load())
			}
		})
		t.Run("seed-sealed-at-rest", func(t *testing.T) {
			f := setup(t, g)
			e, seed := register(t, f, method.Ref{ID: "u-sealed"})
			var data []byte
			g.Table("sspr_methods").Select("data").Where("id = ?", e.ID).Scan(&data)
			if len(data) == 0 || strings.Contains(string(data), seed) {
				t.Fatal("seed not sealed in sspr_methods.data")
			}
		})
	})
}
