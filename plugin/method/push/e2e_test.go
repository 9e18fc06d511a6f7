package push_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/plugin/authenticator"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
)

// The end-to-end tests run the real provider (TLS, sign-in page, RP) with
// the SSPR plugin and the push method's device API mounted; a test
// authenticator holding its own key answers the pushes.

type e2e struct {
	*plugintest.Env
	dev *authenticator.Device // the test user's, once enrolled
}

func startE2E(t *testing.T, dbURL string) *e2e {
	return &e2e{Env: plugintest.Start(t, dbURL, plugintest.Options{Methods: []string{"push"}})}
}

// enroll registers the test authenticator for the test user.
func (x *e2e) enroll(t *testing.T) { x.dev, _ = x.EnrollPush(t, "e2e phone") }

var mustPage = plugintest.MustPage

func (x *e2e) status(t *testing.T, poll string) string {
	t.Helper()
	resp, err := x.Server.HTTP.Client().Get(poll)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out push.StatusResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Status
}

var numberRE = regexp.MustCompile(`(?:<strong>|class="push-number"[^>]*>)(\d{2})<`)

// pushPage goes RP → sign-in page → "Can't access your account?" → name
// + CAPTCHA → "I forgot my password" → the push option, and returns the
// waiting page with the number it shows.
func (x *e2e) pushPage(t *testing.T, b *pt.Browser, startURL string) (*pt.Page, string) {
	t.Helper()
	methods := x.RecoverStart(t, b, startURL, pt.Username)
	wait := b.Submit(methods, "form", map[string]string{"enrollment": plugintest.OptionFor(t, methods, "notification")})
	if wait.Page == nil {
		t.Fatalf("no waiting page: %s", wait)
	}
	m := numberRE.FindStringSubmatch(wait.Page.Body)
	if m == nil {
		t.Fatalf("the waiting page shows no two-digit number:\n%s", wait.Page.Body)
	}
	// The number stands on its own, under its own title, and the page
	// asks for an approval, not a code.
	if h1, title, shown := wait.Page.Text("h1"), wait.Page.Text("#push-number-title"), wait.Page.Text("p.push-number"); h1 != "Approve the request in your authenticator app" || title != "Your number" || shown != m[1] {
		t.Errorf("waiting page: h1 %q, number title %q, number %q (want %s)", h1, title, shown, m[1])
	}
	return wait.Page, m[1]
}

// Issue 4.3 end to end: a recovery approved on the test authenticator with
// number matching returns to the app with a code; a wrong number, a denial
// and an expired push fail; a replayed approval fails.
func TestEndToEndRecoveryByPush(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		x := startE2E(t, dbURL)
		x.enroll(t)
		ctx := t.Context()

		t.Run("approve-with-the-number", func(t *testing.T) {
			rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
			a := rp.Start()
			b := x.Server.NewBrowser(t)
			wait, number := x.pushPage(t, b, a.URL)
			// The page polls the push's status (wait.js) and has a no-JS
			// button; the payload of the poll says only "pending".
			poll, ok := wait.Doc.Find(`form[data-push-poll]`).Attr("data-push-poll")
			if !ok || !strings.HasPrefix(poll, x.Server.URL+push.StatusPath) || wait.Doc.Find(`script[src="/static/authenticator/wait.js"]`).Length() != 1 ||
				!strings.Contains(wait.Body, "I approved it, continue") {
				t.Fatalf("waiting page lacks the poll, script or button:\n%s", wait.Body)
			}
			if st := x.status(t, poll); st != "pending" {
				t.Fatalf("status %q", st)
			}
			// Pressing on before answering is no failure: the page waits.
			before, _ := x.Server.Audit.List(ctx, audit.Filter{UserID: x.Server.User.ID, Type: audit.MethodFailed})
			wait = mustPage(t, b.Submit(wait, `form[action$="/verify"]`, nil), "Waiting for your answer")
			if after, _ := x.Server.Audit.List(ctx, audit.Filter{UserID: x.Server.User.ID, Type: audit.MethodFailed}); len(after) != len(before) {
				t.Fatalf("an early continue counted as a failure")
			}
			reqs, err := x.Client.Pending(ctx, x.dev, 0)
			if err != nil || len(reqs) != 1 {
				t.Fatalf("device: %+v, %v", reqs, err)
			}
			signed, err := x.dev.SignDecision(reqs[0].ID, push.Approve, number, x.Server.Clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got, err := x.Client.Send(ctx, x.dev, signed); err != nil || got != "approved" {
				t.Fatalf("approve = %q, %v", got, err)
			}
			if st := x.status(t, poll); st != "decided" {
				t.Fatalf("status after approval %q", st)
			}
			// The page's "continue" (what wait.js submits, or the no-JS button).
			pw := mustPage(t, b.Submit(wait, `form[action$="/verify"]`, nil), "Choose a new password")
			const newPW = "a brand new push passphrase"
			res := plugintest.ContinueToApp(t, b, b.Submit(pw, "form", map[string]string{"password": newPW, "confirm": newPW}))
			if res.Redirect == nil {
				t.Fatalf("reset did not return to the app: %s", res)
			}
			tok, err := rp.Exchange(ctx, a, rp.Callback(a, res).Get("code"))
			if err != nil {
				t.Fatalf("RP token exchange: %v", err)
			}
			var claims struct {
				AMR []string `json:"amr"`
			}
			if err := tok.IDToken.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(claims.AMR, []string{"swk"}) {
				t.Errorf("amr %v, want [swk]", claims.AMR)
			}
			if _, err := x.Client.Send(ctx, x.dev, signed); err == nil {
				t.Fatalf("replayed approval accepted")
			}
		})

		for _, tt := range []struct {
			name   string
			answer func(t *testing.T, id, number string)
		}{
			{"wrong-number", func(t *testing.T, id, number string) {
				if got, err := x.Client.Decide(ctx, x.dev, id, push.Approve, wrongNumber(number)); err != nil || got != "wrong" {
					t.Fatalf("decide = %q, %v", got, err)
				}
			}},
			{"deny", func(t *testing.T, id, _ string) {
				if got, err := x.Client.Decide(ctx, x.dev, id, push.Deny, ""); err != nil || got != "denied" {
					t.Fatalf("decide = %q, %v", got, err)
				}
			}},
			{"expired", func(t *testing.T, id, number string) {
				x.Server.Clock.Advance(push.TTL)
				if _, err := x.Client.Decide(ctx, x.dev, id, push.Approve, number); err == nil {
					t.Fatalf("late approval accepted")
				}
			}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
				b := x.Server.NewBrowser(t)
				wait, number := x.pushPage(t, b, rp.Start().URL)
				reqs, err := x.Client.Pending(ctx, x.dev, 0)
				if err != nil || len(reqs) != 1 {
					t.Fatalf("device: %+v, %v", reqs, err)
				}
				before, _ := x.Server.Audit.List(ctx, audit.Filter{UserID: x.Server.User.ID, Type: audit.MethodFailed})
				tt.answer(t, reqs[0].ID, number)
				r := b.Submit(wait, `form[action$="/verify"]`, nil)
				if r.Page == nil || strings.Contains(r.Page.Body, "Choose a new password") || r.Page.Status >= 500 {
					t.Fatalf("a failed push let the recovery on: %s", r)
				}
				after, _ := x.Server.Audit.List(ctx, audit.Filter{UserID: x.Server.User.ID, Type: audit.MethodFailed})
				if len(after) != len(before)+1 {
					t.Fatalf("the failure was not counted: %d -> %d method.failed events", len(before), len(after))
				}
				// The push is over: back to the methods, and pressing the old
				// page's "continue" again counts nothing more.
				if !strings.Contains(r.Page.Body, "Choose a verification method") || !strings.Contains(r.Page.Body, "Choose a method to try again") {
					t.Fatalf("after a failed push, want the methods with a message; got %s\n%s", r, r.Page.Body)
				}
				again := b.Submit(wait, `form[action$="/verify"]`, nil)
				if again.Page == nil || again.Page.Status >= 500 || strings.Contains(again.Page.Body, "Choose a new password") {
					t.Fatalf("resubmitting a failed push: %s", again)
				}
				if n, _ := x.Server.Audit.List(ctx, audit.Filter{UserID: x.Server.User.ID, Type: audit.MethodFailed}); len(n) != len(after) {
					t.Fatalf("resubmitting a failed push counted again: %d -> %d", len(after), len(n))
				}
			})
		}
		t.Run("again-after-expiry", func(t *testing.T) {
			x.Server.Clock.Advance(push.Window) // a fresh push-bombing window
			rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
			b := x.Server.NewBrowser(t)
			wait, _ := x.pushPage(t, b, rp.Start().URL)
			other, ok := wait.Doc.Find(`a:contains("Try another way")`).Attr("href")
			if !ok {
				t.Fatalf("no way back to the methods:\n%s", wait.Body)
			}
			u, _ := url.Parse(other)
			methods := mustPage(t, b.Get(wait.URL.ResolveReference(u).String()), "Verify it's you")
			id, _ := methods.Doc.Find(`input[name="enrollment"]`).First().Attr("value")
			// While the push is pending, no second one is sent.
			again := b.Submit(methods, "form", map[string]string{"enrollment": id})
			if again.Page == nil || strings.Contains(again.Page.Body, "I approved it") || again.Page.Status != http.StatusOK {
				t.Fatalf("second push while one is pending: %s", again)
			}
			x.Server.Clock.Advance(push.TTL)
			next := mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": id}), "I approved it, continue")
			m := numberRE.FindStringSubmatch(next.Body)
			reqs, err := x.Client.Pending(ctx, x.dev, 0)
			if m == nil || err != nil || len(reqs) != 1 {
				t.Fatalf("after expiry: number %v, device %+v %v", m, reqs, err)
			}
			if _, err := x.Client.Decide(ctx, x.dev, reqs[0].ID, push.Approve, m[1]); err != nil {
				t.Fatal(err)
			}
			mustPage(t, b.Submit(next, `form[action$="/verify"]`, nil), "Choose a new password")
		})
		t.Run("report-blocks-further-pushes", func(t *testing.T) {
			x.Server.Clock.Advance(push.Window)
			b := x.Server.NewBrowser(t)
			rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
			x.pushPage(t, b, rp.Start().URL)
			reqs, err := x.Client.Pending(ctx, x.dev, 0)
			if err != nil || len(reqs) != 1 {
				t.Fatalf("device: %+v, %v", reqs, err)
			}
			if got, err := x.Client.Decide(ctx, x.dev, reqs[0].ID, push.Report, ""); err != nil || got != "reported" {
				t.Fatalf("report = %q, %v", got, err)
			}
			x.Server.Clock.Advance(push.Window)
			// A new recovery cannot push: the page says so, no 500.
			b2 := x.Server.NewBrowser(t)
			methods := x.RecoverStart(t, b2, rp.Start().URL, pt.Username)
			id, _ := methods.Doc.Find(`input[name="enrollment"]`).First().Attr("value")
			blocked := b2.Submit(methods, "form", map[string]string{"enrollment": id})
			if blocked.Page == nil || blocked.Page.Status != http.StatusOK || !strings.Contains(blocked.Page.Body, "not available") {
				t.Fatalf("push after a fraud report: %s", blocked)
			}
			if reqs, _ := x.Client.Pending(ctx, x.dev, 0); len(reqs) != 0 {
				t.Fatalf("a push was sent after the report: %+v", reqs)
			}
		})
		t.Run("status-endpoint", func(t *testing.T) {
			resp, err := x.Server.HTTP.Client().Get(x.Server.URL + push.StatusPath + "unknown")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
				t.Fatalf("status: %d %v", resp.StatusCode, resp.Header)
			}
		})
	})
}

// Security info: step-up with a push (the page waits for the answer), then
// a second device added through the page's QR link and pairing code.
func TestEndToEndSecurityInfo(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		x := startE2E(t, dbURL)
		x.enroll(t)
		ctx := t.Context()
		b := x.SignIn(t)
		info := mustPage(t, b.Get(x.Server.URL+"/security-info"), "Before you view or change your security info")
		id, _ := info.Doc.Find(`input[name="enrollment"]`).First().Attr("value")
		wait := mustPage(t, b.Submit(info, "form", map[string]string{"enrollment": id}), "I approved it, continue")
		m := numberRE.FindStringSubmatch(wait.Body)
		if m == nil || wait.Doc.Find(`form[data-push-poll]`).Length() != 1 {
			t.Fatalf("step-up page without number or poll:\n%s", wait.Body)
		}
		// Continue before answering: the page waits, no failure.
		wait = mustPage(t, b.Submit(wait, "form", nil), "I approved it, continue")
		if strings.Contains(wait.Body, `class="error"`) {
			t.Fatalf("an unanswered push failed the step-up")
		}
		reqs, err := x.Client.Pending(ctx, x.dev, 0)
		if err != nil || len(reqs) != 1 {
			t.Fatalf("device: %+v, %v", reqs, err)
		}
		if _, err := x.Client.Decide(ctx, x.dev, reqs[0].ID, push.Approve, m[1]); err != nil {
			t.Fatal(err)
		}
		list := mustPage(t, b.Submit(wait, "form", nil), "Add sign-in method")

		add := mustPage(t, b.Get(x.Server.URL+"/security-info/add/push"), "Add Latchkey Authenticator")
		qr := mustPage(t, b.Submit(add, "form", nil), "Scan this code")
		link, ok := qr.Doc.Find(`a[href*="#enroll="]`).Attr("href")
		if !ok || qr.Doc.Find(`img[src^="data:image/png;base64,"]`).Length() != 1 {
			t.Fatalf("registration page without QR code or link:\n%s", qr.Body)
		}
		second, err := x.Client.Enroll(ctx, link, "second", nil)
		if err != nil {
			t.Fatal(err)
		}
		wrong := b.Submit(qr, "form", map[string]string{"code": "000000"})
		if wrong.Page == nil || strings.Contains(wrong.Page.Body, "Latchkey Authenticator (second)") {
			t.Fatalf("a wrong pairing code added the device: %s", wrong)
		}
		list = mustPage(t, b.Submit(qr, "form", map[string]string{"code": second.PairingCode}), "Latchkey Authenticator (second)")
		_ = list
		ms, _ := x.Store.List(ctx, x.Server.User.ID)
		if len(ms) != 2 || ms[1].ID != second.ID {
			t.Fatalf("methods %+v", ms)
		}
		// Checklist 65: the audit trail names the steps, never the secrets.
		evs, err := x.Server.Audit.List(ctx, audit.Filter{UserID: x.Server.User.ID})
		if err != nil {
			t.Fatal(err)
		}
		token := link[strings.Index(link, "#enroll=")+len("#enroll="):]
		seen := map[string]bool{}
		for _, ev := range evs {
			seen[ev.Type] = true
			for _, secret := range []string{token, second.PairingCode, x.dev.PairingCode, "number " + m[1]} {
				if strings.Contains(ev.Detail, secret) || strings.Contains(ev.Type, secret) {
					t.Errorf("audit event %+v contains a secret", ev)
				}
			}
		}
		for _, typ := range []string{push.EventSent, push.EventApproved, push.EventDevice} {
			if !seen[typ] {
				t.Errorf("no %s audit event (have %v)", typ, seen)
			}
		}
	})
}
