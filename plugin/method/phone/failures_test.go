package phone_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/plugin/sender/twilio"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// Issue 4.2: a gateway failure (timeout, 4xx, 5xx) gives a clear error the
// page can show, leaves no live challenge (registration, challenge and
// resend alike), never carries the gateway's response, and is audited.
func TestGatewayFailures(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		delay  time.Duration
	}{
		{"bad-request", 400, "", 0},
		{"unauthorized", 401, "", 0},
		{"rate-limited", 429, "", 0},
		{"server-error", 500, "", 0},
		{"html-error-page", 502, "<html>upstream secret-internal-detail</html>", 0},
		{"timeout", 0, "", 1500 * time.Millisecond},
	}
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				f := setup(t, g, noLimits)
				ctx := t.Context()
				u := ref("gw-" + tc.name)
				mob := f.register(t, ctx, method.Mobile, u, method.Input{"phone": "+12015550160"})
				fid := "flow-" + tc.name
				ok, err := f.m[method.Mobile].Challenge(ctx, fid, u, mob)
				if err != nil {
					t.Fatal(err)
				}
				if n := live(t, g, u.ID); n != 1 {
					t.Fatalf("%d live challenges before the failures, want 1", n)
				}

				if tc.status != 0 {
					f.srv.Fail(tc.status, tc.body)
				}
				f.srv.Delay(tc.delay)
				// The fixture's client times out after 800 ms. The resend
				// runs first: a new code kills the user's older ones anyway.
				steps := []struct {
					name string
					run  func() error
				}{
					{"resend", func() error {
						_, err := f.m[method.Mobile].Resend(ctx, fid, u, mob, ok)
						return err
					}},
					{"register", func() error {
						_, err := f.m[method.OfficePhone].Begin(ctx, fid+"-reg", u, method.Input{"phone": "+12015550161", "extension": "12"})
						return err
					}},
					{"challenge-sms", func() error {
						_, err := f.m[method.Mobile].ChallengeInput(ctx, fid+"-sms", u, mob, method.Input{"channel": "sms"})
						return err
					}},
					{"challenge-voice", func() error {
						_, err := f.m[method.Mobile].ChallengeInput(ctx, fid+"-voice", u, mob, method.Input{"channel": "voice"})
						return err
					}},
				}
				for _, st := range steps {
					step, err := st.name, st.run()
					var de *phone.DeliveryError
					if !errors.As(err, &de) || !errors.Is(err, phone.ErrDelivery) || !errors.Is(err, method.ErrUnavailable) ||
						!errors.Is(err, twilio.ErrGateway) || de.Message() != phone.MsgDelivery {
						t.Fatalf("%s: err = %v, want a *DeliveryError", step, err)
					}
					for _, leak := range []string{"secret-internal-detail", "Unknown error", "upstream", "2015550161", "2015550160"} {
						if strings.Contains(err.Error(), leak) {
							t.Fatalf("%s: error %q leaks %q", step, err, leak)
						}
					}
				}
				// No challenge the failures made is live, and the resend
				// withdrew the one it could not deliver.
				if n := live(t, g, u.ID); n != 0 {
					t.Fatalf("%d live challenges after failures, want 0", n)
				}
				if res, _ := f.m[method.Mobile].Verify(ctx, fid, u, mob, ok, method.Input{"code": f.srv.Code("+12015550160")}); res.OK {
					t.Fatal("a challenge whose resend failed can still be answered")
				}
				fails := 0
				for _, e := range events(t, f.audit, phone.EventSend, u.ID) {
					if e.Outcome == audit.Fail {
						fails++
						if !strings.Contains(e.Detail, `"reason":"gateway"`) || strings.Contains(e.Detail, "secret") {
							t.Fatalf("audit detail %s", e.Detail)
						}
					}
				}
				if fails != len(steps) {
					t.Fatalf("%d failed sends audited, want %d", fails, len(steps))
				}
				// The gateway recovers: sends work again.
				f.srv.Fail(0, "")
				f.srv.Delay(0)
				if _, err := f.m[method.Mobile].Challenge(ctx, fid+"-again", u, mob); err != nil {
					t.Fatalf("after recovery: %v", err)
				}
			})
		}
	})
}

// Checklist 52: the global hourly budget trips a circuit breaker that
// refuses every send (real users and decoys alike) without calling the
// gateway, alerts once, and closes after BreakerOpen.
func TestCircuitBreaker(t *testing.T) {
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, phone.Limits{GlobalHour: 3, BreakerOpen: 2 * time.Hour})
		ctx := t.Context()
		var es []method.Enrollment
		for i := range 5 {
			es = append(es, f.register(t, ctx, method.Mobile, ref(nth("b")(i)), method.Input{"phone": nth("+1201555017")(i)}))
		}
		for i := range 3 {
			if _, err := f.m[method.Mobile].Challenge(ctx, "f", ref(nth("b")(i)), es[i]); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		before := f.srv.Requests()
		_, err := f.m[method.Mobile].Challenge(ctx, "f", ref("b3"), es[3])
		if !errors.Is(err, phone.ErrBreakerOpen) || !errors.Is(err, method.ErrUnavailable) {
			t.Fatalf("4th send: %v, want ErrBreakerOpen", err)
		}
		// Still open an hour later (the budget window has passed), for
		// everyone, decoys included; the alert was raised once.
		f.clk.Advance(61 * time.Minute)
		_, err = f.m[method.Mobile].Challenge(ctx, "f", ref("b4"), es[4])
		if !errors.Is(err, phone.ErrBreakerOpen) {
			t.Fatalf("send while open: %v", err)
		}
		decoy := method.Ref{Username: "nobody", Decoy: true}
		if _, err := f.m[method.Mobile].Challenge(ctx, "f", decoy, method.Enrollment{ID: "decoy-1", Method: method.Mobile}); !errors.Is(err, phone.ErrBreakerOpen) {
			t.Fatalf("decoy while open: %v", err)
		}
		if f.srv.Requests() != before {
			t.Fatal("the gateway was called while the breaker was open")
		}
		if n := len(events(t, f.audit, phone.EventBreaker, "")); n != 1 {
			t.Fatalf("%d breaker alerts, want 1", n)
		}
		if open, _ := f.guard.BreakerOpen(ctx); !open {
			t.Fatal("BreakerOpen = false")
		}
		// Open for BreakerOpen, plus at most a tenth of it (the limiter's
		// bucket).
		f.clk.Advance(time.Hour + 13*time.Minute)
		if _, err := f.m[method.Mobile].Challenge(ctx, "f", ref("b4"), es[4]); err != nil {
			t.Fatalf("after the breaker closed: %v", err)
		}
		// An operator can close it at once.
		for range 3 {
			_, _ = f.m[method.Mobile].Challenge(ctx, "g", ref("b0"), es[0])
		}
		if err := f.guard.ResetBreaker(ctx); err != nil {
			t.Fatal(err)
		}
		if open, _ := f.guard.BreakerOpen(ctx); open {
			t.Fatal("breaker open after reset")
		}
	})
}

// Checklist 52: the same limits apply to registering a number on the
// Security info page.
func TestRegistrationLimited(t *testing.T) {
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, phone.DefaultLimits)
		ctx := withIP(t.Context(), "198.51.100.9")
		u := ref("reg-limit")
		sent := 0
		var err error
		for i := range 6 {
			_, err = f.m[method.Mobile].Begin(ctx, nth("flow")(i), u, method.Input{"phone": nth("+1201555018")(i)})
			if err != nil {
				break
			}
			sent++
		}
		var le *phone.LimitError
		if sent != 5 || !errors.As(err, &le) || le.Limit != "user" {
			t.Fatalf("%d registrations sent, then %v; want 5 then the per-user limit", sent, err)
		}
		// The same number three times in ten minutes, from another user.
		other := ref("reg-limit-2")
		for i := range 4 {
			// 70 s: the limiter counts in buckets of a tenth of the window,
			// so a 60 s cool-down ends within 66 s.
			f.clk.Advance(70 * time.Second)
			_, err = f.m[method.Mobile].Begin(ctx, nth("g")(i), other, method.Input{"phone": "+12015550190"})
			if i < 3 && err != nil {
				t.Fatalf("registration %d: %v", i, err)
			}
		}
		if !errors.As(err, &le) || le.Limit != "number" {
			t.Fatalf("4th registration of one number: %v, want the per-number limit", err)
		}
	})
}

// Checklist 13 and 53 through the phone methods: a resend within the
// cool-down is refused; a resend keeps the failure count and kills the old
// code.
func TestResend(t *testing.T) {
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, phone.Limits{CoolDown: time.Minute})
		ctx := t.Context()
		u := ref("resender")
		e := f.register(t, ctx, method.AlternatePhone, u, method.Input{"phone": "+12015550199"})
		m := f.m[method.AlternatePhone]
		c, err := m.Challenge(ctx, "flow", u, e)
		if err != nil {
			t.Fatal(err)
		}
		old := f.srv.CallCode("+12015550199")
		f.clk.Advance(20 * time.Second)
		before := f.srv.Requests()
		var le *phone.LimitError
		if _, err := m.Resend(ctx, "flow", u, e, c); !errors.As(err, &le) || le.Limit != "cooldown" || le.RetryAfter <= 0 {
			t.Fatalf("resend after 20 s: %v, want the cool-down", err)
		}
		if f.srv.Requests() != before {
			t.Fatal("a refused resend called the gateway")
		}
		for range 4 {
			if res, _ := m.Verify(ctx, "flow", u, e, c, method.Input{"code": "00000000"}); res.OK {
				t.Fatal("wrong code accepted")
			}
		}
		f.clk.Advance(50 * time.Second) // 70 s: past the cool-down (see TestRegistrationLimited)
		c2, err := m.Resend(ctx, "flow", u, e, c)
		if err != nil {
			t.Fatal(err)
		}
		fresh := f.srv.CallCode("+12015550199")
		if fresh == old || c2.ID != c.ID {
			t.Fatal("resend did not replace the code of the same challenge")
		}
		if res, _ := m.Verify(ctx, "flow", u, e, c2, method.Input{"code": old}); res.OK || !res.Dead {
			t.Fatalf("old code after resend + 5th failure: %+v, want dead", res)
		}
		if res, _ := m.Verify(ctx, "flow", u, e, c2, method.Input{"code": fresh}); res.OK {
			t.Fatal("the new code works after five failures: the resend reset the count")
		}
		// Another flow cannot resend this challenge.
		if _, err := m.Resend(ctx, "other-flow", u, e, c2); !errors.Is(err, method.ErrDead) {
			t.Fatalf("resend from another flow: %v", err)
		}
	})
}

// Issue 4.2: calls speak the user's language where supported, digit by
// digit, twice; texts are written in it.
func TestLanguage(t *testing.T) {
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, noLimits)
		u := ref("polyglot")
		e := f.register(t, t.Context(), method.Mobile, u, method.Input{"phone": "+12015550177"})
		tests := []struct {
			name, accept, channel, wantLang, wantWord string
		}{
			{"french-canadian-call", "fr-CA,fr;q=0.9,en;q=0.5", "voice", "fr-CA", "Votre code"},
			{"austrian-call-german-voice", "de-AT", "voice", "de-DE", "Bestätigungscode"},
			{"british-call", "en-GB", "voice", "en-GB", "verification code"},
			{"japanese-call", "ja-JP", "voice", "ja-JP", "確認コード"},
			{"unsupported-falls-back-to-english", "tlh", "voice", "en-US", "verification code"},
			{"no-header", "", "voice", "en-US", "verification code"},
			{"spanish-text", "es-MX", "sms", "", "código"},
			{"arabic-text", "ar-EG", "sms", "", "رمز التحقق"},
			{"dutch-text-in-english", "nl", "sms", "", "verification code"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				// The page's language, as the i18n middleware chose it.
				l, _ := i18n.For(tc.accept)
				ctx := i18n.With(method.WithRequest(t.Context(), method.Request{AcceptLanguage: tc.accept}), l)
				if _, err := f.m[method.Mobile].ChallengeInput(ctx, "f-"+tc.name, u, e, method.Input{"channel": tc.channel}); err != nil {
					t.Fatal(err)
				}
				if tc.channel == "sms" {
					ms := f.srv.Messages()
					body := ms[len(ms)-1].Body
					if !strings.Contains(body, tc.wantWord) || f.srv.SMSCode("+12015550177") == "" {
						t.Fatalf("SMS %q, want %q and the code", body, tc.wantWord)
					}
					return
				}
				cs := f.srv.Calls()
				c := cs[len(cs)-1]
				if len(c.Says) != 2 || c.Says[0].Language != tc.wantLang || !strings.Contains(c.Says[0].Text, tc.wantWord) {
					t.Fatalf("call %+v, want two <Say> in %s", c.Says, tc.wantLang)
				}
				if len(f.srv.CallCode("+12015550177")) != method.CodeDigits {
					t.Fatalf("call does not say the code digit by digit: %q", c.Says[0].Text)
				}
			})
		}
	})
}

// Checklist 8 and 50: the audit trail has every send, with the masked
// number and calling code, never the code or the full number.
func TestAuditedSends(t *testing.T) {
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, noLimits)
		ctx := withIP(t.Context(), "203.0.113.5")
		u := ref("audited")
		p, err := f.m[method.Mobile].Begin(ctx, "reg", u, method.Input{"phone": "+447400123456"})
		if err != nil {
			t.Fatal(err)
		}
		code := f.srv.Code("+447400123456")
		e, res, err := f.m[method.Mobile].Finish(ctx, "reg", u, p, method.Input{"code": code})
		if err != nil || !res.OK {
			t.Fatal(res, err)
		}
		e.UserID = u.ID
		if _, err := f.m[method.Mobile].ChallengeInput(ctx, "flow", u, e, method.Input{"channel": "voice"}); err != nil {
			t.Fatal(err)
		}
		evs := events(t, f.audit, phone.EventSend, u.ID)
		if len(evs) != 2 {
			t.Fatalf("%d send events, want 2", len(evs))
		}
		for _, ev := range evs {
			if ev.Outcome != audit.OK || ev.IP != "203.0.113.5" || ev.FlowID == "" {
				t.Fatalf("event %+v", ev)
			}
			if !strings.Contains(ev.Detail, `"to":"+44 ••• ••• ••56"`) || !strings.Contains(ev.Detail, `"cc":"44"`) {
				t.Fatalf("detail %s", ev.Detail)
			}
			if strings.Contains(ev.Detail, "7400123456") || strings.Contains(ev.Detail, code) {
				t.Fatalf("detail leaks the number or the code: %s", ev.Detail)
			}
		}
	})
}

// Checklist 3: a decoy (unknown user) does the same work, meets the same
// limits, and sends nothing.
func TestDecoy(t *testing.T) {
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, phone.DefaultLimits)
		ctx := withIP(t.Context(), "198.51.100.77")
		decoy := method.Ref{Username: "ghost", Decoy: true}
		d := method.Enrollment{ID: "decoy-abc", Method: method.Mobile, Label: "+1 ••• ••• ••07"}
		var err error
		n := 0
		for range 4 {
			var c method.Challenge
			c, err = f.m[method.Mobile].Challenge(ctx, "flow", decoy, d)
			if err != nil {
				break
			}
			n++
			if res, _ := f.m[method.Mobile].Verify(ctx, "flow", decoy, d, c, method.Input{"code": "12345678"}); res.OK {
				t.Fatal("decoy verified")
			}
			f.clk.Advance(70 * time.Second) // past the cool-down (see TestRegistrationLimited)
		}
		var le *phone.LimitError
		if n != 3 || !errors.As(err, &le) || le.Limit != "number" {
			t.Fatalf("decoy: %d sends then %v; want 3 then the per-number limit, like a real user", n, err)
		}
		if f.srv.Requests() != 0 {
			t.Fatal("a decoy reached the gateway")
		}
	})
}

// Checklist 52 under concurrency: 12 simultaneous sends to one number with
// a limit of 3 reach the gateway exactly 3 times.
func TestConcurrentSendsLimited(t *testing.T) {
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, phone.Limits{PerNumber: phone.DefaultLimits.PerNumber})
		u := ref("racer")
		e := f.register(t, t.Context(), method.Mobile, u, method.Input{"phone": "+12015550188"})
		before := f.srv.Requests()
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Go(func() {
				_, _ = f.m[method.Mobile].Challenge(t.Context(), nth("race")(i), u, e)
			})
		}
		wg.Wait()
		if got := f.srv.Requests() - before; got != 3 {
			t.Fatalf("%d sends reached the gateway, want 3", got)
		}
	})
}

// Checklist 3: unknown names do not share one per-user bucket, so decoys
// meet the per-user limit exactly as often as real users.
func TestDecoysKeyedByName(t *testing.T) {
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, phone.Limits{PerUser: phone.DefaultLimits.PerUser})
		for i := range 7 {
			name := nth("ghost-")(i)
			d := method.Enrollment{ID: "decoy-" + name, Method: method.Mobile, Label: "+1 ••• ••• ••07"}
			if _, err := f.m[method.Mobile].Challenge(t.Context(), "flow", method.Ref{Username: name, Decoy: true}, d); err != nil {
				t.Fatalf("decoy %d: %v", i, err)
			}
		}
	})
}
