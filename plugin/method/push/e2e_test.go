package push_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/plugin/authenticator"
	"github.com/latchkeyid/latchkey/plugin/captcha"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/plugin/sender/outbox"
	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/ui"
	lkmail "github.com/latchkeyid/latchkey/ui/mail"
)

// The end-to-end tests run the real provider (TLS, sign-in page, RP) with
// the SSPR plugin and the push method's device API mounted; a test
// authenticator holding its own key answers the pushes.

// provSignIn presents the provider as the plugin's SignIn; it looks the
// provider up at each call (the server may build it after mounting).
type provSignIn struct{ s *pt.Server }

func (a provSignIn) Current(c echo.Context) (plugin.Account, bool) {
	acc, ok := a.s.Provider.Current(c)
	return plugin.Account(acc), ok
}
func (a provSignIn) Complete(c echo.Context, uid string, amr []string, ar string) (string, error) {
	return a.s.Provider.Complete(c, uid, amr, ar)
}
func (a provSignIn) ContinueURL(c echo.Context, ar string) (string, error) {
	return a.s.Provider.ContinueURL(c, ar)
}
func (a provSignIn) LoginURL(ar, u string) string { return a.s.Provider.LoginURL(ar, u) }
func (a provSignIn) RevokeUser(tx *gorm.DB, uid, except string) error {
	return a.s.Provider.RevokeUser(tx, uid, except)
}

type hook struct{ p *plugin.Plugin }

func (h *hook) AfterSignIn(c echo.Context, uid, ar string) (string, error) {
	return h.p.AfterSignIn(c, uid, ar)
}

type e2e struct {
	s       *pt.Server
	m       *push.Method
	store   *method.Store
	captcha *captcha.BuiltinVerifier
	cli     *authenticator.Client
	dev     *authenticator.Device
}

func startE2E(t *testing.T, dbURL string) *e2e {
	x := &e2e{}
	h := &hook{}
	x.s = pt.Start(t, dbURL, pt.Config{
		Provider: func(o *provider.Options) { o.AfterSignIn = h },
		Mount: func(s *pt.Server, e *echo.Echo) {
			ctx := context.Background()
			if err := db.Migrate(ctx, s.DB, schema.Set()); err != nil {
				t.Fatal(err)
			}
			q := sender.NewQueue(s.DB, s.Keyring, []sender.Sender{outbox.New()}, sender.WithQueueClock(s.Clock.Now))
			x.store = method.NewStore(s.DB, method.WithStoreClock(s.Clock.Now))
			codes := method.NewCodes(s.DB, s.Keyring, method.WithCodeClock(s.Clock.Now))
			var err error
			x.m, err = push.New(s.DB, x.store, s.Keyring, push.Config{Issuer: s.URL, Audit: s.Audit, Now: s.Clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			x.m.Routes(e.Group(""))
			reg, err := method.NewRegistry(x.m)
			if err != nil {
				t.Fatal(err)
			}
			pols := policy.NewStore(s.DB, policy.Default([]string{"push"}))
			pol, err := pols.Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pol.Methods, pol.RegisterAtSignIn = []string{"push"}, false
			if err := pols.Set(ctx, pol); err != nil {
				t.Fatal(err)
			}
			x.captcha = captcha.NewBuiltin(s.DB, captcha.WithClock(s.Clock.Now))
			tmpl, err := lkmail.New(s.URL)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ui.New()
			if err != nil {
				t.Fatal(err)
			}
			h.p, err = plugin.Mount(e.Group(""), plugin.Deps{
				DB: s.DB, Users: s.Users, Audit: s.Audit, Keys: s.Keyring, Methods: reg, Enrollments: x.store,
				Codes: codes, Policy: pols, Queue: q, Captcha: x.captcha, SignIn: provSignIn{s},
				Renderer: r, Issuer: s.URL, Now: s.Clock.Now, Mail: tmpl,
			})
			if err != nil {
				t.Fatal(err)
			}
		},
	})
	x.cli = &authenticator.Client{HTTP: x.s.HTTP.Client(), Now: x.s.Clock.Now}
	return x
}

// enroll registers the test authenticator for the test user.
func (x *e2e) enroll(t *testing.T) method.Enrollment {
	t.Helper()
	ctx := t.Context()
	u := x.s.User
	r := method.Ref{ID: u.ID, Username: u.Username, Email: u.Email}
	p, err := x.m.Begin(ctx, "enroll", r, nil)
	if err != nil {
		t.Fatal(err)
	}
	x.dev, err = x.cli.Enroll(ctx, p.Prompt.Link, "e2e phone", nil)
	if err != nil {
		t.Fatal(err)
	}
	en, res, err := x.m.Finish(ctx, "enroll", r, p, method.Input{push.FieldCode: x.dev.PairingCode})
	if err != nil || !res.OK {
		t.Fatalf("enroll: %v %+v", err, res)
	}
	if err := x.store.Add(ctx, &en, 0); err != nil {
		t.Fatal(err)
	}
	return en
}

func (x *e2e) solve(p *pt.Page) string {
	id, _ := p.Doc.Find(`input[name="captcha_id"]`).Attr("value")
	var s strings.Builder
	for _, d := range x.captcha.Store().Get(id, false) {
		s.WriteByte('0' + d)
	}
	return s.String()
}

func mustPage(t *testing.T, r *pt.Result, contains string) *pt.Page {
	t.Helper()
	if r.Page == nil || !strings.Contains(r.Page.Body, contains) {
		body := ""
		if r.Page != nil {
			body = r.Page.Body
		}
		t.Fatalf("want a page containing %q, got %s\n%s", contains, r, body)
	}
	return r.Page
}

func (x *e2e) status(t *testing.T, poll string) string {
	t.Helper()
	resp, err := x.s.HTTP.Client().Get(poll)
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

var numberRE = regexp.MustCompile(`<strong>(\d{2})</strong>`)

// pushPage goes RP → sign-in page → "Can't access your account?" → name
// + CAPTCHA → "I forgot my password" → the push option, and returns the
// waiting page with the number it shows.
func (x *e2e) pushPage(t *testing.T, b *pt.Browser, startURL string) (*pt.Page, string) {
	t.Helper()
	login := mustPage(t, b.Get(startURL), "Sign in")
	href, ok := login.Doc.Find(`a:contains("Can't access your account?")`).Attr("href")
	if !ok {
		t.Fatalf("no recovery link on the sign-in page:\n%s", login.Body)
	}
	ref, _ := url.Parse(href)
	start := mustPage(t, b.Get(login.URL.ResolveReference(ref).String()), "Get back into your account")
	choice := mustPage(t, b.Submit(start, `form[action="/recover"]`, map[string]string{"username": pt.Username, "captcha": x.solve(start)}),
		"I forgot my password")
	methods := mustPage(t, b.Submit(choice, "form", map[string]string{"intent": "reset"}), "Verify it's you")
	var id string
	sel := methods.Doc.Find(`input[name="enrollment"]`)
	for i := range sel.Length() {
		if in := sel.Eq(i); strings.Contains(in.Parent().Text(), "notification") {
			id, _ = in.Attr("value")
		}
	}
	if id == "" {
		t.Fatalf("no push option on\n%s", methods.Body)
	}
	wait := b.Submit(methods, "form", map[string]string{"enrollment": id})
	if wait.Page == nil {
		t.Fatalf("no waiting page: %s", wait)
	}
	m := numberRE.FindStringSubmatch(wait.Page.Body)
	if m == nil {
		t.Fatalf("the waiting page shows no two-digit number:\n%s", wait.Page.Body)
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
			rp := x.s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
			a := rp.Start()
			b := x.s.NewBrowser(t)
			wait, number := x.pushPage(t, b, a.URL)
			// The page polls the push's status (wait.js) and has a no-JS
			// button; the payload of the poll says only "pending".
			poll, ok := wait.Doc.Find(`form[data-push-poll]`).Attr("data-push-poll")
			if !ok || !strings.HasPrefix(poll, x.s.URL+push.StatusPath) || wait.Doc.Find(`script[src="/static/authenticator/wait.js"]`).Length() != 1 ||
				!strings.Contains(wait.Body, "I approved it, continue") {
				t.Fatalf("waiting page lacks the poll, script or button:\n%s", wait.Body)
			}
			if st := x.status(t, poll); st != "pending" {
				t.Fatalf("status %q", st)
			}
			// Pressing on before answering is no failure: the page waits.
			before, _ := x.s.Audit.List(ctx, audit.Filter{UserID: x.s.User.ID, Type: audit.MethodFailed})
			wait = mustPage(t, b.Submit(wait, `form[action$="/verify"]`, nil), "Waiting for your answer")
			if after, _ := x.s.Audit.List(ctx, audit.Filter{UserID: x.s.User.ID, Type: audit.MethodFailed}); len(after) != len(before) {
				t.Fatalf("an early continue counted as a failure")
			}
			reqs, err := x.cli.Pending(ctx, x.dev, 0)
			if err != nil || len(reqs) != 1 {
				t.Fatalf("device: %+v, %v", reqs, err)
			}
			signed, err := x.dev.SignDecision(reqs[0].ID, push.Approve, number, x.s.Clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got, err := x.cli.Send(ctx, x.dev, signed); err != nil || got != "approved" {
				t.Fatalf("approve = %q, %v", got, err)
			}
			if st := x.status(t, poll); st != "decided" {
				t.Fatalf("status after approval %q", st)
			}
			// The page's "continue" (what wait.js submits, or the no-JS button).
			pw := mustPage(t, b.Submit(wait, `form[action$="/verify"]`, nil), "Choose a new password")
			const newPW = "a brand new push passphrase"
			res := b.Submit(pw, "form", map[string]string{"password": newPW, "confirm": newPW})
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
			if _, err := x.cli.Send(ctx, x.dev, signed); err == nil {
				t.Fatalf("replayed approval accepted")
			}
		})

		for _, tt := range []struct {
			name   string
			answer func(t *testing.T, id, number string)
		}{
			{"wrong-number", func(t *testing.T, id, number string) {
				if got, err := x.cli.Decide(ctx, x.dev, id, push.Approve, wrongNumber(number)); err != nil || got != "wrong" {
					t.Fatalf("decide = %q, %v", got, err)
				}
			}},
			{"deny", func(t *testing.T, id, _ string) {
				if got, err := x.cli.Decide(ctx, x.dev, id, push.Deny, ""); err != nil || got != "denied" {
					t.Fatalf("decide = %q, %v", got, err)
				}
			}},
			{"expired", func(t *testing.T, id, number string) {
				x.s.Clock.Advance(push.TTL)
				if _, err := x.cli.Decide(ctx, x.dev, id, push.Approve, number); err == nil {
					t.Fatalf("late approval accepted")
				}
			}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				rp := x.s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
				b := x.s.NewBrowser(t)
				wait, number := x.pushPage(t, b, rp.Start().URL)
				reqs, err := x.cli.Pending(ctx, x.dev, 0)
				if err != nil || len(reqs) != 1 {
					t.Fatalf("device: %+v, %v", reqs, err)
				}
				before, _ := x.s.Audit.List(ctx, audit.Filter{UserID: x.s.User.ID, Type: audit.MethodFailed})
				tt.answer(t, reqs[0].ID, number)
				r := b.Submit(wait, `form[action$="/verify"]`, nil)
				if r.Page == nil || strings.Contains(r.Page.Body, "Choose a new password") || r.Page.Status >= 500 {
					t.Fatalf("a failed push let the recovery on: %s", r)
				}
				after, _ := x.s.Audit.List(ctx, audit.Filter{UserID: x.s.User.ID, Type: audit.MethodFailed})
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
				if n, _ := x.s.Audit.List(ctx, audit.Filter{UserID: x.s.User.ID, Type: audit.MethodFailed}); len(n) != len(after) {
					t.Fatalf("resubmitting a failed push counted again: %d -> %d", len(after), len(n))
				}
			})
		}
		t.Run("again-after-expiry", func(t *testing.T) {
			x.s.Clock.Advance(push.Window) // a fresh push-bombing window
			rp := x.s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
			b := x.s.NewBrowser(t)
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
			x.s.Clock.Advance(push.TTL)
			next := mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": id}), "I approved it, continue")
			m := numberRE.FindStringSubmatch(next.Body)
			reqs, err := x.cli.Pending(ctx, x.dev, 0)
			if m == nil || err != nil || len(reqs) != 1 {
				t.Fatalf("after expiry: number %v, device %+v %v", m, reqs, err)
			}
			if _, err := x.cli.Decide(ctx, x.dev, reqs[0].ID, push.Approve, m[1]); err != nil {
				t.Fatal(err)
			}
			mustPage(t, b.Submit(next, `form[action$="/verify"]`, nil), "Choose a new password")
		})
		t.Run("report-blocks-further-pushes", func(t *testing.T) {
			x.s.Clock.Advance(push.Window)
			b := x.s.NewBrowser(t)
			rp := x.s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
			x.pushPage(t, b, rp.Start().URL)
			reqs, err := x.cli.Pending(ctx, x.dev, 0)
			if err != nil || len(reqs) != 1 {
				t.Fatalf("device: %+v, %v", reqs, err)
			}
			if got, err := x.cli.Decide(ctx, x.dev, reqs[0].ID, push.Report, ""); err != nil || got != "reported" {
				t.Fatalf("report = %q, %v", got, err)
			}
			x.s.Clock.Advance(push.Window)
			// A new recovery cannot push: the page says so, no 500.
			b2 := x.s.NewBrowser(t)
			login := mustPage(t, b2.Get(rp.Start().URL), "Sign in")
			href, _ := login.Doc.Find(`a:contains("Can't access your account?")`).Attr("href")
			ref, _ := url.Parse(href)
			start := mustPage(t, b2.Get(login.URL.ResolveReference(ref).String()), "Get back into your account")
			choice := mustPage(t, b2.Submit(start, `form[action="/recover"]`, map[string]string{"username": pt.Username, "captcha": x.solve(start)}),
				"I forgot my password")
			methods := mustPage(t, b2.Submit(choice, "form", map[string]string{"intent": "reset"}), "Verify it's you")
			id, _ := methods.Doc.Find(`input[name="enrollment"]`).First().Attr("value")
			blocked := b2.Submit(methods, "form", map[string]string{"enrollment": id})
			if blocked.Page == nil || blocked.Page.Status != http.StatusOK || !strings.Contains(blocked.Page.Body, "not available") {
				t.Fatalf("push after a fraud report: %s", blocked)
			}
			if reqs, _ := x.cli.Pending(ctx, x.dev, 0); len(reqs) != 0 {
				t.Fatalf("a push was sent after the report: %+v", reqs)
			}
		})
		t.Run("status-endpoint", func(t *testing.T) {
			resp, err := x.s.HTTP.Client().Get(x.s.URL + push.StatusPath + "unknown")
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
		rp := x.s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := x.s.NewBrowser(t)
		if res := b.SignIn(mustPage(t, b.Get(rp.Start().URL), "Sign in"), pt.Username, pt.Password); res.Redirect == nil {
			t.Fatalf("sign-in: %s", res)
		}
		info := mustPage(t, b.Get(x.s.URL+"/security-info"), "Before you view or change your security info")
		id, _ := info.Doc.Find(`input[name="enrollment"]`).First().Attr("value")
		wait := mustPage(t, b.Submit(info, "form", map[string]string{"enrollment": id}), "I approved it, continue")
		m := numberRE.FindStringSubmatch(wait.Body)
		if m == nil || wait.Doc.Find(`form[data-push-poll]`).Length() != 1 {
			t.Fatalf("step-up page without number or poll:\n%s", wait.Body)
		}
		// Continue before answering: the page waits, no failure.
		wait = mustPage(t, b.Submit(wait, "form", nil), "I approved it, continue")
		if strings.Contains(wait.Body, "That did not work") {
			t.Fatalf("an unanswered push failed the step-up")
		}
		reqs, err := x.cli.Pending(ctx, x.dev, 0)
		if err != nil || len(reqs) != 1 {
			t.Fatalf("device: %+v, %v", reqs, err)
		}
		if _, err := x.cli.Decide(ctx, x.dev, reqs[0].ID, push.Approve, m[1]); err != nil {
			t.Fatal(err)
		}
		list := mustPage(t, b.Submit(wait, "form", nil), "Add sign-in method")

		add := mustPage(t, b.Get(x.s.URL+"/security-info/add/push"), "Add Latchkey Authenticator")
		qr := mustPage(t, b.Submit(add, "form", nil), "Scan this code")
		link, ok := qr.Doc.Find(`a[href*="#enroll="]`).Attr("href")
		if !ok || qr.Doc.Find(`img[src^="data:image/png;base64,"]`).Length() != 1 {
			t.Fatalf("registration page without QR code or link:\n%s", qr.Body)
		}
		second, err := x.cli.Enroll(ctx, link, "second", nil)
		if err != nil {
			t.Fatal(err)
		}
		wrong := b.Submit(qr, "form", map[string]string{"code": "000000"})
		if wrong.Page == nil || strings.Contains(wrong.Page.Body, "Latchkey Authenticator (second)") {
			t.Fatalf("a wrong pairing code added the device: %s", wrong)
		}
		list = mustPage(t, b.Submit(qr, "form", map[string]string{"code": second.PairingCode}), "Latchkey Authenticator (second)")
		_ = list
		ms, _ := x.store.List(ctx, x.s.User.ID)
		if len(ms) != 2 || ms[1].ID != second.ID {
			t.Fatalf("methods %+v", ms)
		}
		// Checklist 65: the audit trail names the steps, never the secrets.
		evs, err := x.s.Audit.List(ctx, audit.Filter{UserID: x.s.User.ID})
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
