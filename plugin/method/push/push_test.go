package push_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/authenticator"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/methodtest"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	pschema "github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	prschema "github.com/latchkeyid/latchkey/provider/schema"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/web"
)

// env is a real server: the push method's device API on an Echo behind
// httptest, a real database, and a test authenticator holding its own key.
type env struct {
	g     *gorm.DB
	m     *push.Method
	store *method.Store
	clk   *methodtest.Clock
	srv   *httptest.Server
	cli   *authenticator.Client
	audit *audit.Log
	user  method.Ref
}

func sets() []db.Set { return []db.Set{prschema.Set(), pschema.Set()} }

func newEnv(t *testing.T, g *gorm.DB, opts ...func(*push.Config)) *env {
	t.Helper()
	keys, err := secret.Parse(secret.Generate())
	if err != nil {
		t.Fatal(err)
	}
	return newEnvKeys(t, g, keys, opts...)
}

func newEnvKeys(t *testing.T, g *gorm.DB, keys *secret.Keyring, opts ...func(*push.Config)) *env {
	t.Helper()
	clk := methodtest.NewClock()
	store := method.NewStore(g, method.WithStoreClock(clk.Now))
	e := echo.New()
	e.HTTPErrorHandler = web.ErrorHandler(nil, nil)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	log := audit.NewLog(g, audit.WithClock(clk.Now))
	cfg := push.Config{Issuer: srv.URL, Audit: log, Now: clk.Now, PollEvery: 20 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	m, err := push.New(g, store, keys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Routes(e.Group(""))
	return &env{g: g, m: m, store: store, clk: clk, srv: srv, cli: &authenticator.Client{HTTP: srv.Client(), Now: clk.Now},
		audit: log, user: method.Ref{ID: rand.Text(), Username: "alice"}}
}

// enroll registers a new device for the env's user, as the security-info
// page and the authenticator would.
func (v *env) enroll(t *testing.T) (*authenticator.Device, method.Enrollment) {
	t.Helper()
	ctx := t.Context()
	fid := rand.Text()
	p, err := v.m.Begin(ctx, fid, v.user, nil)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := v.cli.Enroll(ctx, p.Prompt.Link, "test phone", nil)
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	if dev.Account != "alice" {
		t.Errorf("account = %q", dev.Account)
	}
	e, res, err := v.m.Finish(ctx, fid, v.user, p, method.Input{push.FieldCode: dev.PairingCode})
	if err != nil || !res.OK {
		t.Fatalf("Finish = %+v, %v", res, err)
	}
	if err := v.store.Add(ctx, &e, 0); err != nil {
		t.Fatal(err)
	}
	return dev, e
}

func (v *env) challenge(t *testing.T, fid string, e method.Enrollment) method.Challenge {
	t.Helper()
	c, err := v.m.Challenge(method.WithRequest(t.Context(), method.Request{IP: "10.1.2.3"}), fid, v.user, e)
	if err != nil {
		t.Fatalf("Challenge: %v", err)
	}
	return c
}

func (v *env) verify(t *testing.T, fid string, e method.Enrollment, c method.Challenge) method.Result {
	t.Helper()
	res, err := v.m.Verify(t.Context(), fid, v.user, e, c, method.Input{})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return res
}

func (v *env) status(t *testing.T, c method.Challenge) string {
	t.Helper()
	resp, err := v.srv.Client().Get(c.Prompt.Poll)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s push.StatusResponse
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status: %d %v", resp.StatusCode, err)
	}
	return s.Status
}

func wrongNumber(n string) string {
	if n == "42" {
		return "43"
	}
	return "42"
}

func apiStatus(err error) int {
	var ae *authenticator.Error
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

func (v *env) events(t *testing.T, typ string) []audit.Event {
	t.Helper()
	evs, err := v.audit.List(t.Context(), audit.Filter{UserID: v.user.ID, Type: typ})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// Checklist 48: number matching with a signed approval.
func TestNumberMatching(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		v := newEnv(t, g)
		dev, e := v.enroll(t)
		ctx := t.Context()

		t.Run("right-number-passes-once", func(t *testing.T) {
			fid := rand.Text()
			c := v.challenge(t, fid, e)
			if c.Prompt.Kind != "number" || len(c.Prompt.Number) != 2 || c.Prompt.Number < "10" || c.Prompt.Number > "99" {
				t.Fatalf("prompt = %+v, want a two-digit number", c.Prompt)
			}
			if got := v.status(t, c); got != "pending" {
				t.Fatalf("status = %q", got)
			}
			if res := v.verify(t, fid, e, c); res.OK || !res.Pending {
				t.Fatalf("before approval: %+v, want pending", res)
			}
			reqs, err := v.cli.Pending(ctx, dev, 0)
			if err != nil || len(reqs) != 1 || reqs[0].ID != c.ID {
				t.Fatalf("pending = %+v, %v", reqs, err)
			}
			if reqs[0].App != "Latchkey" || reqs[0].Place != "Internal network" || !reqs[0].Time.Equal(v.clk.Now()) {
				t.Errorf("request = %+v", reqs[0])
			}
			signed, err := dev.SignDecision(c.ID, push.Approve, c.Prompt.Number, v.clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got, err := v.cli.Send(ctx, dev, signed); err != nil || got != "approved" {
				t.Fatalf("approve = %q, %v", got, err)
			}
			// Replayed approval: refused, and the challenge is unchanged.
			if _, err := v.cli.Send(ctx, dev, signed); apiStatus(err) != http.StatusConflict {
				t.Fatalf("replayed approval: %v, want 409", err)
			}
			if got := v.status(t, c); got != "decided" {
				t.Fatalf("status = %q", got)
			}
			if res := v.verify(t, fid, e, c); !res.OK {
				t.Fatalf("after approval: %+v, want OK", res)
			}
			if res := v.verify(t, fid, e, c); res.OK || !res.Dead {
				t.Fatalf("second verify: %+v, want dead", res)
			}
			if len(v.events(t, push.EventApproved)) != 1 {
				t.Errorf("approval not audited")
			}
		})

		for _, tt := range []struct {
			name     string
			decision string
			number   func(c method.Challenge) string
			want     string
			event    string
		}{
			{"wrong-number-fails", push.Approve, func(c method.Challenge) string { return wrongNumber(c.Prompt.Number) }, "wrong", push.EventWrong},
			{"empty-number-fails", push.Approve, func(method.Challenge) string { return "" }, "wrong", push.EventWrong},
			{"deny-fails", push.Deny, func(method.Challenge) string { return "" }, "denied", push.EventDenied},
			{"deny-with-right-number-fails", push.Deny, func(c method.Challenge) string { return c.Prompt.Number }, "denied", push.EventDenied},
		} {
			t.Run(tt.name, func(t *testing.T) {
				v.clk.Advance(push.Window) // a fresh push-bombing window
				fid := rand.Text()
				c := v.challenge(t, fid, e)
				before := len(v.events(t, tt.event))
				got, err := v.cli.Decide(ctx, dev, c.ID, tt.decision, tt.number(c))
				if err != nil || got != tt.want {
					t.Fatalf("decide = %q, %v; want %q", got, err, tt.want)
				}
				if res := v.verify(t, fid, e, c); res.OK || !res.Dead {
					t.Fatalf("verify = %+v, want dead", res)
				}
				// The challenge is over: a right approval afterwards fails.
				if _, err := v.cli.Decide(ctx, dev, c.ID, push.Approve, c.Prompt.Number); apiStatus(err) != http.StatusConflict {
					t.Fatalf("approval after %s: %v, want 409", tt.want, err)
				}
				if len(v.events(t, tt.event)) != before+1 {
					t.Errorf("%s not audited", tt.event)
				}
			})
		}

		t.Run("expired-fails", func(t *testing.T) {
			v.clk.Advance(push.Window)
			fid := rand.Text()
			c := v.challenge(t, fid, e)
			if !c.ExpiresAt.Equal(v.clk.Now().Add(push.TTL)) || push.TTL > 2*time.Minute {
				t.Fatalf("expires %v, want now+%v", c.ExpiresAt, push.TTL)
			}
			v.clk.Advance(push.TTL)
			if reqs, err := v.cli.Pending(ctx, dev, 0); err != nil || len(reqs) != 0 {
				t.Fatalf("expired push still pending: %+v, %v", reqs, err)
			}
			if _, err := v.cli.Decide(ctx, dev, c.ID, push.Approve, c.Prompt.Number); apiStatus(err) != http.StatusGone {
				t.Fatalf("late approval: %v, want 410", err)
			}
			if got := v.status(t, c); got != "expired" {
				t.Fatalf("status = %q", got)
			}
			if res := v.verify(t, fid, e, c); res.OK || !res.Dead {
				t.Fatalf("verify = %+v, want dead", res)
			}
		})

		t.Run("approved-but-collected-too-late-fails", func(t *testing.T) {
			v.clk.Advance(push.Window)
			fid := rand.Text()
			c := v.challenge(t, fid, e)
			if got, err := v.cli.Decide(ctx, dev, c.ID, push.Approve, c.Prompt.Number); err != nil || got != "approved" {
				t.Fatalf("approve = %q, %v", got, err)
			}
			v.clk.Advance(push.TTL + push.VerifyGrace)
			if res := v.verify(t, fid, e, c); res.OK {
				t.Fatalf("stale approval accepted")
			}
		})

		t.Run("approval-for-another-challenge-or-device-fails", func(t *testing.T) {
			v.clk.Advance(push.Window)
			other, _ := v.enroll(t)
			fid := rand.Text()
			c := v.challenge(t, fid, e)
			// Another enrolled device of the same user cannot answer it.
			if _, err := v.cli.Decide(ctx, other, c.ID, push.Approve, c.Prompt.Number); apiStatus(err) != http.StatusNotFound {
				t.Fatalf("other device: %v, want 404", err)
			}
			// A decision signed by a key that is not the device's.
			forged := *other
			forged.ID = dev.ID
			if _, err := v.cli.Decide(ctx, &forged, c.ID, push.Approve, c.Prompt.Number); apiStatus(err) != http.StatusUnauthorized {
				t.Fatalf("forged signature: %v, want 401", err)
			}
			// Another flow cannot collect the approval.
			if _, err := v.cli.Decide(ctx, dev, c.ID, push.Approve, c.Prompt.Number); err != nil {
				t.Fatal(err)
			}
			if res := v.verify(t, rand.Text(), e, c); res.OK {
				t.Fatalf("approval collected by another flow")
			}
			if res := v.verify(t, fid, e, c); !res.OK {
				t.Fatalf("own flow: %+v", res)
			}
		})
	})
}

// The payload the device receives never contains the number.
func TestDevicePayloadHasNoNumber(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		v := newEnv(t, g)
		dev, e := v.enroll(t)
		c := v.challenge(t, rand.Text(), e)
		tok, err := dev.Token(v.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, v.srv.URL+push.APIPath+"/pending?wait=0", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := v.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var raw struct {
			Requests []map[string]any `json:"requests"`
		}
		if err := json.Unmarshal(body, &raw); err != nil || len(raw.Requests) != 1 {
			t.Fatalf("pending body %s: %v", body, err)
		}
		var keys []string
		for k := range raw.Requests[0] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		// place_id marks the built-in place (here the loopback's), which
		// the app names in its own language.
		if want := []string{"app", "expires", "id", "place", "place_id", "time"}; !slices.Equal(keys, want) {
			t.Fatalf("device payload fields %v, want %v", keys, want)
		}
		if raw.Requests[0]["id"] != c.ID || raw.Requests[0]["place"] != push.InternalNetwork || raw.Requests[0]["place_id"] != "internal" {
			t.Fatalf("payload %s", body)
		}
	})
}

// Checklist 49: push bombing.
func TestPushBombing(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		count := func(t *testing.T, v *env) int64 {
			var n int64
			if err := g.Table("push_challenges").Where("user_id = ?", v.user.ID).Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		refused := func(t *testing.T, v *env, fid string, e method.Enrollment) *method.RateLimitError {
			t.Helper()
			before := count(t, v)
			_, err := v.m.Challenge(ctx, fid, v.user, e)
			var rl *method.RateLimitError
			if !errors.As(err, &rl) || rl.RetryAfter <= 0 {
				t.Fatalf("Challenge = %v, want a rate-limit error", err)
			}
			if count(t, v) != before {
				t.Fatalf("a refused push was stored")
			}
			return rl
		}

		t.Run("one-pending-per-flow", func(t *testing.T) {
			v := newEnv(t, g)
			_, e := v.enroll(t)
			fid := rand.Text()
			v.challenge(t, fid, e)
			refused(t, v, fid, e)
			v.clk.Advance(push.TTL) // expired: a new one may be sent
			v.challenge(t, fid, e)
		})

		t.Run("fourth-in-15-minutes-refused", func(t *testing.T) {
			v := newEnv(t, g)
			dev, e := v.enroll(t)
			for range push.PerWindow {
				v.challenge(t, rand.Text(), e)
			}
			rl := refused(t, v, rand.Text(), e)
			if rl.RetryAfter > push.Window {
				t.Errorf("retry after %v", rl.RetryAfter)
			}
			if reqs, _ := v.cli.Pending(ctx, dev, 0); len(reqs) != push.PerWindow {
				t.Fatalf("device saw %d pushes, want %d", len(reqs), push.PerWindow)
			}
			if len(v.events(t, push.EventRefused)) != 1 {
				t.Errorf("refusal not audited")
			}
			v.clk.Advance(push.Window)
			v.challenge(t, rand.Text(), e)
		})

		t.Run("success-restarts-the-count", func(t *testing.T) {
			v := newEnv(t, g)
			dev, e := v.enroll(t)
			v.challenge(t, rand.Text(), e)
			v.challenge(t, rand.Text(), e)
			fid := rand.Text()
			c := v.challenge(t, fid, e)
			if _, err := v.cli.Decide(ctx, dev, c.ID, push.Approve, c.Prompt.Number); err != nil {
				t.Fatal(err)
			}
			if res := v.verify(t, fid, e, c); !res.OK {
				t.Fatalf("verify: %+v", res)
			}
			v.clk.Advance(time.Second)
			for range push.PerWindow {
				v.challenge(t, rand.Text(), e)
			}
			refused(t, v, rand.Text(), e)
		})

		t.Run("ten-per-day", func(t *testing.T) {
			v := newEnv(t, g)
			_, e := v.enroll(t)
			for i := range push.PerDay {
				if i > 0 && i%push.PerWindow == 0 {
					v.clk.Advance(push.Window)
				}
				v.challenge(t, rand.Text(), e)
			}
			v.clk.Advance(push.Window)
			refused(t, v, rand.Text(), e)
			v.clk.Advance(24 * time.Hour)
			v.challenge(t, rand.Text(), e)
		})

		t.Run("concurrent-requests-pass-at-most-three", func(t *testing.T) {
			v := newEnv(t, g)
			_, e := v.enroll(t)
			var wg sync.WaitGroup
			var mu sync.Mutex
			ok, limited := 0, 0
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := v.m.Challenge(ctx, rand.Text(), v.user, e)
					var rl *method.RateLimitError
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						ok++
					case errors.As(err, &rl):
						limited++
					default:
						t.Errorf("Challenge: %v", err)
					}
				}()
			}
			wg.Wait()
			if ok != push.PerWindow || count(t, v) != push.PerWindow {
				t.Fatalf("%d pushes passed (%d stored), %d limited; want %d", ok, count(t, v), limited, push.PerWindow)
			}
		})

		t.Run("fraud-report-blocks-pushes", func(t *testing.T) {
			v := newEnv(t, g)
			dev, e := v.enroll(t)
			fid := rand.Text()
			c := v.challenge(t, fid, e)
			if got, err := v.cli.Decide(ctx, dev, c.ID, push.Report, ""); err != nil || got != "reported" {
				t.Fatalf("report = %q, %v", got, err)
			}
			if res := v.verify(t, fid, e, c); res.OK || !res.Dead {
				t.Fatalf("verify after report: %+v", res)
			}
			evs := v.events(t, push.EventFraud)
			if len(evs) != 1 || evs[0].Outcome != audit.Blocked || !strings.Contains(evs[0].Detail, "did not start") {
				t.Fatalf("fraud report events = %+v", evs)
			}
			v.clk.Advance(push.Window)
			if _, err := v.m.Challenge(ctx, rand.Text(), v.user, e); !errors.Is(err, push.ErrBlocked) {
				t.Fatalf("push after report: %v, want ErrBlocked", err)
			}
			v.clk.Advance(push.ReportBlock)
			v.challenge(t, rand.Text(), e)
		})

		t.Run("report-block-from-policy", func(t *testing.T) {
			v := newEnv(t, g, func(c *push.Config) {
				c.ReportBlockFunc = func(context.Context) (time.Duration, error) { return 5 * time.Minute, nil }
			})
			dev, e := v.enroll(t)
			c := v.challenge(t, rand.Text(), e)
			if _, err := v.cli.Decide(ctx, dev, c.ID, push.Report, ""); err != nil {
				t.Fatal(err)
			}
			if _, err := v.m.Challenge(ctx, rand.Text(), v.user, e); !errors.Is(err, push.ErrBlocked) {
				t.Fatalf("push after report: %v, want ErrBlocked", err)
			}
			v.clk.Advance(5 * time.Minute)
			v.challenge(t, rand.Text(), e)
		})
		t.Run("report-block-off-by-policy", func(t *testing.T) {
			v := newEnv(t, g, func(c *push.Config) { c.ReportBlock = -1 })
			dev, e := v.enroll(t)
			c := v.challenge(t, rand.Text(), e)
			if _, err := v.cli.Decide(ctx, dev, c.ID, push.Report, ""); err != nil {
				t.Fatal(err)
			}
			v.challenge(t, rand.Text(), e)
		})
	})
}

func TestEnrollmentLink(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		v := newEnv(t, g)

		t.Run("single-use", func(t *testing.T) {
			fid := rand.Text()
			p, err := v.m.Begin(ctx, fid, v.user, nil)
			if err != nil {
				t.Fatal(err)
			}
			if p.Prompt.Kind != "push" || !strings.HasPrefix(p.Prompt.QRCode, "data:image/png;base64,") ||
				!strings.HasPrefix(p.Prompt.Link, v.srv.URL+push.EnrollPath+"#enroll=") {
				t.Fatalf("prompt = %+v", p.Prompt)
			}
			// Not yet scanned: not finished, not dead.
			if _, res, err := v.m.Finish(ctx, fid, v.user, p, nil); err != nil || res.OK || res.Dead {
				t.Fatalf("Finish before scan = %+v, %v", res, err)
			}
			dev, err := v.cli.Enroll(ctx, p.Prompt.Link, "one", nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(dev.PairingCode) != 6 {
				t.Fatalf("pairing code %q", dev.PairingCode)
			}
			ok := method.Input{push.FieldCode: dev.PairingCode}
			if _, err := v.cli.Enroll(ctx, p.Prompt.Link, "two", nil); apiStatus(err) != http.StatusGone {
				t.Fatalf("second use of the link: %v, want 410", err)
			}
			// Another flow or user cannot finish it, nor a wrong pairing
			// code (a device that is not the user's claimed the link).
			if _, res, _ := v.m.Finish(ctx, rand.Text(), v.user, p, ok); res.OK {
				t.Fatalf("finished from another flow")
			}
			if _, res, _ := v.m.Finish(ctx, fid, method.Ref{ID: rand.Text()}, p, ok); res.OK {
				t.Fatalf("finished by another user")
			}
			for _, code := range []string{"", "000000", dev.PairingCode + "0", "abcdef"} {
				if code == dev.PairingCode {
					continue
				}
				if _, res, err := v.m.Finish(ctx, fid, v.user, p, method.Input{push.FieldCode: code}); err != nil || res.OK || res.Dead {
					t.Fatalf("Finish with pairing code %q = %+v, %v", code, res, err)
				}
			}
			e, res, err := v.m.Finish(ctx, fid, v.user, p, ok)
			if err != nil || !res.OK || e.Label != "Latchkey Authenticator (one)" {
				t.Fatalf("Finish = %+v %+v, %v", e, res, err)
			}
		})

		t.Run("expires-after-10-minutes", func(t *testing.T) {
			fid := rand.Text()
			p, err := v.m.Begin(ctx, fid, v.user, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !p.ExpiresAt.Equal(v.clk.Now().Add(10 * time.Minute)) {
				t.Fatalf("link expires %v", p.ExpiresAt)
			}
			v.clk.Advance(push.LinkTTL)
			if _, err := v.cli.Enroll(ctx, p.Prompt.Link, "late", nil); apiStatus(err) != http.StatusGone {
				t.Fatalf("expired link: %v, want 410", err)
			}
			if _, res, _ := v.m.Finish(ctx, fid, v.user, p, nil); res.OK || !res.Dead {
				t.Fatalf("Finish of expired link = %+v", res)
			}
		})

		t.Run("bad-requests-are-clear-400s", func(t *testing.T) {
			for _, body := range []string{``, `{}`, `{"signed":"x.y.z"}`, `not json`, `{"signed":"` + strings.Repeat("a", 9000) + `"}`} {
				resp, err := v.srv.Client().Post(v.srv.URL+push.APIPath+"/enroll", "application/json", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "error") {
					t.Errorf("body %.20q: %d %s", body, resp.StatusCode, b)
				}
			}
			if _, err := v.cli.Enroll(ctx, "https://example.com/nothing", "x", nil); !errors.Is(err, authenticator.ErrNotLink) {
				t.Errorf("bad link: %v", err)
			}
		})

		t.Run("other-server-audience-refused", func(t *testing.T) {
			p, err := v.m.Begin(ctx, rand.Text(), v.user, nil)
			if err != nil {
				t.Fatal(err)
			}
			// The same token presented as for another issuer: the signed
			// audience does not match this server.
			link := strings.Replace(p.Prompt.Link, v.srv.URL, v.srv.URL+"/other", 1)
			cli := &authenticator.Client{HTTP: &http.Client{Transport: rewrite{to: v.srv.URL, from: v.srv.URL + "/other"}}, Now: v.clk.Now}
			if _, err := cli.Enroll(ctx, link, "x", nil); apiStatus(err) != http.StatusBadRequest {
				t.Fatalf("wrong audience: %v, want 400", err)
			}
		})
	})
}

// rewrite sends requests for from to to (a device misled about the issuer).
type rewrite struct{ from, to string }

func (r rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	u := strings.Replace(req.URL.String(), r.from, r.to, 1)
	out, err := http.NewRequestWithContext(req.Context(), req.Method, u, req.Body)
	if err != nil {
		return nil, err
	}
	out.Header = req.Header
	return http.DefaultTransport.RoundTrip(out)
}

func TestDeviceToken(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		v := newEnv(t, g)
		dev, e := v.enroll(t)
		get := func(tok string) int {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, v.srv.URL+push.APIPath+"/pending?wait=0", nil)
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			resp, err := v.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		tok, _ := dev.Token(v.clk.Now())
		if got := get(tok); got != http.StatusOK {
			t.Fatalf("fresh token: %d", got)
		}
		other, _ := authenticator.NewKey()
		forgedTok := func() string {
			d := &authenticator.Device{Issuer: dev.Issuer, ID: dev.ID, Key: mustPKCS8(t, other)}
			s, _ := d.Token(v.clk.Now())
			return s
		}
		old, _ := dev.Token(v.clk.Now().Add(-push.MaxTokenLife - push.Skew))
		future, _ := dev.Token(v.clk.Now().Add(2 * push.Skew))
		for _, tt := range []struct {
			name string
			tok  string
		}{
			{"replayed-token", tok},
			{"no-token", ""},
			{"garbage", "abc"},
			{"expired-token", old},
			{"future-token", future},
			{"other-key", forgedTok()},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if got := get(tt.tok); got != http.StatusUnauthorized {
					t.Fatalf("got %d, want 401", got)
				}
			})
		}
		t.Run("long-poll-wakes-on-a-push", func(t *testing.T) {
			done := make(chan []push.Request, 1)
			go func() {
				reqs, err := v.cli.Pending(context.WithoutCancel(ctx), dev, 5*time.Second)
				if err != nil {
					t.Error(err)
				}
				done <- reqs
			}()
			time.Sleep(100 * time.Millisecond)
			c := v.challenge(t, rand.Text(), e)
			select {
			case reqs := <-done:
				if len(reqs) != 1 || reqs[0].ID != c.ID {
					t.Fatalf("long poll got %+v", reqs)
				}
			case <-time.After(4 * time.Second):
				t.Fatal("long poll did not return the push")
			}
		})
		t.Run("removed-device-refused", func(t *testing.T) {
			if err := v.store.Delete(ctx, v.user.ID, e.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := v.cli.Pending(ctx, dev, 0); apiStatus(err) != http.StatusUnauthorized {
				t.Fatalf("removed device: %v, want 401", err)
			}
		})
	})
}

// The method passes the shared behaviour kit.
func TestMethodKit(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		v := newEnv(t, g)
		var dev *authenticator.Device
		methodtest.Run(t, methodtest.Harness{
			Method: v.m, Store: v.store, User: v.user, Expiry: push.TTL + push.VerifyGrace,
			Confirm: func(t *testing.T, p method.Pending) method.Input {
				d, err := v.cli.Enroll(t.Context(), p.Prompt.Link, "kit", nil)
				if err != nil {
					t.Fatal(err)
				}
				dev = d
				return method.Input{push.FieldCode: d.PairingCode}
			},
			Right: func(t *testing.T, e method.Enrollment, c method.Challenge) method.Input {
				if _, err := v.cli.Decide(t.Context(), dev, c.ID, push.Approve, c.Prompt.Number); err != nil {
					t.Fatal(err)
				}
				return method.Input{}
			},
			Wrong: func(t *testing.T, c method.Challenge) method.Input {
				if _, err := v.cli.Decide(t.Context(), dev, c.ID, push.Approve, wrongNumber(c.Prompt.Number)); err != nil {
					t.Fatal(err)
				}
				// The kit sends more pushes than the push-bombing limit
				// allows in one window; move to the next.
				v.clk.Advance(push.Window)
				return method.Input{}
			},
			Advance: v.clk.Advance,
		})
	})
}

func mustPKCS8(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestTTLCapAndCleanup(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		v := newEnv(t, g, func(c *push.Config) { c.TTL = time.Hour })
		dev, e := v.enroll(t)
		c := v.challenge(t, rand.Text(), e)
		if got := c.ExpiresAt.Sub(v.clk.Now()); got != push.MaxTTL {
			t.Fatalf("TTL %v, want the hard cap %v", got, push.MaxTTL)
		}
		if _, err := v.cli.Pending(ctx, dev, 0); err != nil { // leaves a nonce
			t.Fatal(err)
		}
		// An abandoned enrollment: the device used the link, the user
		// never finished.
		p, err := v.m.Begin(ctx, rand.Text(), v.user, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.cli.Enroll(ctx, p.Prompt.Link, "abandoned", nil); err != nil {
			t.Fatal(err)
		}
		count := func(table string) int64 {
			var n int64
			if err := g.Table(table).Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		// A decoy's push leaves an account row for its limits, which goes
		// with its last push.
		if _, err := v.m.Challenge(ctx, rand.Text(), method.Ref{ID: "decoy:cleanup", Decoy: true}, e); err != nil {
			t.Fatal(err)
		}
		decoyAccounts := func() (n int64) {
			if err := g.Table("push_accounts").Where("user_id LIKE ?", "decoy:%").Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		if err := v.m.Cleanup(ctx, v.clk.Now()); err != nil {
			t.Fatal(err)
		}
		if decoyAccounts() != 1 {
			t.Fatalf("a live decoy push lost its account row")
		}
		if count("push_challenges") != 2 || count("push_devices") != 2 {
			t.Fatalf("live rows were cleaned up")
		}
		v.clk.Advance(24 * time.Hour)
		if err := v.m.Cleanup(ctx, v.clk.Now()); err != nil {
			t.Fatal(err)
		}
		for table, want := range map[string]int64{"push_challenges": 0, "push_links": 0, "push_nonces": 0, "push_devices": 1} {
			if got := count(table); got != want {
				t.Errorf("%s: %d rows after cleanup, want %d", table, got, want)
			}
		}
		if n := decoyAccounts(); n != 0 {
			t.Errorf("%d decoy account rows after cleanup", n)
		}
		// The enrolled device still works.
		if _, err := v.cli.Pending(ctx, dev, 0); err != nil {
			t.Fatal(err)
		}
	})
}

// A device token used just before LATCHKEY_SECRET is switched is still
// refused as a replay by a server running with the new secret and the old
// one as LATCHKEY_SECRET_PREVIOUS.
func TestDeviceTokenReplayAcrossSecretRotation(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		oldK, _ := secret.Parse(secret.Generate())
		newK, _ := secret.Parse(secret.Generate())
		v := newEnvKeys(t, g, oldK)
		dev, _ := v.enroll(t)
		tok, err := dev.Token(v.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		get := func() int {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, dev.Issuer+push.APIPath+"/pending?wait=0", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := v.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			return resp.StatusCode
		}
		if code := get(); code != http.StatusOK {
			t.Fatalf("first use: %d", code)
		}
		// The same issuer, now served by a method on the rotated keyring.
		e := echo.New()
		e.HTTPErrorHandler = web.ErrorHandler(nil, nil)
		m, err := push.New(g, v.store, newK.WithPrevious(oldK), push.Config{Issuer: v.srv.URL, Audit: v.audit, Now: v.clk.Now, PollEvery: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		m.Routes(e.Group(""))
		v.srv.Config.Handler = e
		if code := get(); code == http.StatusOK {
			t.Fatal("a device token seen before the switch was accepted again")
		}
		fresh, err := v.cli.Pending(t.Context(), dev, 0)
		if err != nil {
			t.Fatalf("a fresh token after the switch: %v (%v)", err, fresh)
		}
	})
}
