package phone_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/plugin/captcha"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/plugin/sender/outbox"
	"github.com/latchkeyid/latchkey/plugin/sender/twilio"
	"github.com/latchkeyid/latchkey/plugin/sender/twilio/twiliotest"
	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/ui"
	lkmail "github.com/latchkeyid/latchkey/ui/mail"
)

// The end-to-end tests run the real provider (TLS, sign-in page, RP) with
// the SSPR plugin mounted, phone codes going through the Twilio-compatible
// server on loopback.

type provSignIn struct{ p *provider.Provider }

func (a provSignIn) Current(c echo.Context) (plugin.Account, bool) {
	acc, ok := a.p.Current(c)
	return plugin.Account(acc), ok
}
func (a provSignIn) Complete(c echo.Context, uid string, amr []string, ar string) (string, error) {
	return a.p.Complete(c, uid, amr, ar)
}
func (a provSignIn) ContinueURL(c echo.Context, ar string) (string, error) {
	return a.p.ContinueURL(c, ar)
}
func (a provSignIn) LoginURL(ar, u string) string { return a.p.LoginURL(ar, u) }
func (a provSignIn) RevokeUser(tx *gorm.DB, uid, except string) error {
	return a.p.RevokeUser(tx, uid, except)
}

type hook struct{ p *plugin.Plugin }

func (h *hook) AfterSignIn(c echo.Context, uid, ar string) (string, error) {
	return h.p.AfterSignIn(c, uid, ar)
}

type e2e struct {
	s       *pt.Server
	gw      *twiliotest.Server
	store   *method.Store
	m       map[method.Name]*phone.Method
	captcha *captcha.BuiltinVerifier
	policy  *policy.Store
	queue   *sender.Queue  // notifications: Drain, then read mail
	mail    *outbox.Outbox // what the queue delivered
}

const newPW = "a brand new phone passphrase"

func startE2E(t *testing.T, dbURL string) *e2e {
	x := &e2e{gw: twiliotest.New(t), m: map[method.Name]*phone.Method{}}
	h := &hook{}
	x.s = pt.Start(t, dbURL, pt.Config{
		Provider: func(o *provider.Options) { o.AfterSignIn = h },
		Mount: func(s *pt.Server, e *echo.Echo) {
			ctx := context.Background()
			if err := db.Migrate(ctx, s.DB, schema.Set()); err != nil {
				t.Fatal(err)
			}
			// Notifications to the account address go to a recorder.
			x.mail = outbox.New()
			q := sender.NewQueue(s.DB, s.Keyring, []sender.Sender{x.mail}, sender.WithQueueClock(s.Clock.Now))
			x.queue = q
			x.store = method.NewStore(s.DB, method.WithStoreClock(s.Clock.Now))
			codes := method.NewCodes(s.DB, s.Keyring, method.WithCodeClock(s.Clock.Now))
			cl, err := twilio.New(x.gw.Config())
			if err != nil {
				t.Fatal(err)
			}
			iss, _ := url.Parse(s.URL)
			// The checklist limits, with room for one user's three
			// registrations and three recoveries in one hour.
			limits := phone.DefaultLimits
			limits.PerUser.Limit = 10
			ms, _, err := phone.Methods(codes, s.Keyring, ratelimit.New(s.DB, ratelimit.WithClock(s.Clock.Now)), phone.Setup{
				SMS: cl.SMS(), Voice: cl.Voice(), DefaultRegion: "US", Domain: iss.Hostname(), Audit: s.Audit, Log: quiet, Limits: &limits,
				// As cmd wires it: the policy's phone_countries, else US.
				Countries: func(ctx context.Context) ([]string, error) {
					p, err := x.policy.Get(ctx)
					return p.PhoneAllowlist("US"), err
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				x.m[m.Name()] = m.(*phone.Method)
			}
			reg, err := method.NewRegistry(ms...)
			if err != nil {
				t.Fatal(err)
			}
			pols := policy.NewStore(s.DB, policy.Default([]string{"mobile", "alternate-phone", "office-phone"}))
			pol, err := pols.Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pol.Methods = []string{"mobile", "alternate-phone", "office-phone"}
			pol.RegisterAtSignIn = false
			if err := pols.Set(ctx, pol); err != nil {
				t.Fatal(err)
			}
			x.policy = pols
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
				Codes: codes, Policy: pols, Queue: q, Captcha: x.captcha, SignIn: provSignIn{s.Provider},
				Renderer: r, Issuer: s.URL, Now: s.Clock.Now, Mail: tmpl,
			})
			if err != nil {
				t.Fatal(err)
			}
		},
	})
	return x
}

// enroll registers a number for the test user through the method, proving
// it with the code the gateway received.
func (x *e2e) enroll(t *testing.T, n method.Name, in method.Input, e164 string) {
	t.Helper()
	ctx := t.Context()
	u := x.s.User
	r := method.Ref{ID: u.ID, Username: u.Username, Email: u.Email}
	p, err := x.m[n].Begin(ctx, "enroll-"+string(n), r, in)
	if err != nil {
		t.Fatal(err)
	}
	en, res, err := x.m[n].Finish(ctx, "enroll-"+string(n), r, p, method.Input{"code": x.gw.Code(e164)})
	if err != nil || !res.OK {
		t.Fatalf("enroll: %v %+v", err, res)
	}
	if err := x.store.Add(ctx, &en, 0); err != nil {
		t.Fatal(err)
	}
	x.s.Clock.Advance(2 * time.Minute) // past the resend cool-down of the registration's code
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

// recoverFromSignIn goes RP → sign-in page → "Can't access your
// account?" → name + CAPTCHA → "I forgot my password" → method page.
func (x *e2e) recoverFromSignIn(t *testing.T, b *pt.Browser, startURL string) *pt.Page {
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
	return mustPage(t, b.Submit(choice, "form", map[string]string{"intent": "reset"}), "Verify it's you")
}

func optionFor(t *testing.T, p *pt.Page, text string) string {
	t.Helper()
	var id string
	sel := p.Doc.Find(`input[name="enrollment"]`)
	for i := range sel.Length() {
		in := sel.Eq(i)
		if strings.Contains(in.Parent().Text(), text) {
			id, _ = in.Attr("value")
		}
	}
	if id == "" {
		t.Fatalf("no option %q on\n%s", text, p.Body)
	}
	return id
}

// Issue 4 tests: end-to-end recoveries through the real server with each
// of the three phone kinds; the office extension reaches SendDigits; the
// RP receives tokens whose amr names the phone proof.
func TestEndToEndRecoveryByPhone(t *testing.T) {
	tests := []struct {
		kind       method.Name
		in         method.Input
		e164       string
		option     string
		byCall     bool
		wantDigits string
		wantAMR    []string
	}{
		{method.Mobile, method.Input{"phone": "(201) 555-0101"}, "+12015550101", "Text my mobile phone", false, "", []string{"sms"}},
		{method.AlternatePhone, method.Input{"phone": "+1 201 555 0102"}, "+12015550102", "Call my alternate phone", true, "", []string{"tel"}},
		{method.OfficePhone, method.Input{"phone": "201 555 0103", "country": "US", "extension": "4711"}, "+12015550103", "Call my office phone", true, "ww4711", []string{"tel"}},
	}
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		x := startE2E(t, dbURL)
		for _, tc := range tests {
			x.enroll(t, tc.kind, tc.in, tc.e164)
		}
		for _, tc := range tests {
			t.Run(string(tc.kind), func(t *testing.T) {
				newPW := newPW + " " + string(tc.kind)
				rp := x.s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
				a := rp.Start()
				b := x.s.NewBrowser(t)
				methods := x.recoverFromSignIn(t, b, a.URL)
				calls := len(x.gw.Calls())
				verify := mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, tc.option)}),
					"We sent a code")
				if !strings.Contains(verify.Body, "••") || strings.Contains(verify.Body, tc.e164[2:]) {
					t.Fatalf("verify page does not mask the number:\n%s", verify.Body)
				}
				var code string
				if tc.byCall {
					cs := x.gw.Calls()
					if len(cs) != calls+1 || cs[len(cs)-1].To != tc.e164 || cs[len(cs)-1].SendDigits != tc.wantDigits {
						t.Fatalf("calls %+v", cs[calls:])
					}
					code = twiliotest.SpokenCode(cs[len(cs)-1])
				} else {
					code = x.gw.SMSCode(tc.e164)
				}
				if len(code) != method.CodeDigits {
					t.Fatalf("no code reached %s", tc.e164)
				}
				pw := mustPage(t, b.Submit(verify, `form[action$="/verify"]`, map[string]string{"code": code}), "Choose a new password")
				res := b.Submit(pw, "form", map[string]string{"password": newPW, "confirm": newPW})
				if res.Redirect == nil {
					t.Fatalf("reset did not return to the app: %s", res)
				}
				tok, err := rp.Exchange(t.Context(), a, rp.Callback(a, res).Get("code"))
				if err != nil {
					t.Fatalf("RP token exchange: %v", err)
				}
				var claims struct {
					AMR []string `json:"amr"`
				}
				if err := tok.IDToken.Claims(&claims); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(claims.AMR, tc.wantAMR) {
					t.Errorf("amr %v, want %v", claims.AMR, tc.wantAMR)
				}
				if _, err := x.s.Users.Authenticate(t.Context(), pt.Username, newPW); err != nil {
					t.Errorf("the new password does not sign in: %v", err)
				}
				if p := x.gw.Problems(); len(p) > 0 {
					t.Fatalf("gateway protocol problems: %q", p)
				}
			})
		}
	})
}

// Issue 4.2: when the gateway fails, the user stays on the method page
// with a message and can pick another method; nothing of the gateway's
// answer shows.
func TestEndToEndGatewayFailure(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		x := startE2E(t, dbURL)
		x.enroll(t, method.Mobile, method.Input{"phone": "+12015550104"}, "+12015550104")
		x.enroll(t, method.AlternatePhone, method.Input{"phone": "+12015550105"}, "+12015550105")
		rp := x.s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
		b := x.s.NewBrowser(t)
		methods := x.recoverFromSignIn(t, b, rp.Start().URL)
		x.gw.Fail(http.StatusServiceUnavailable, "<html>secret-internal-detail</html>")
		again := mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "Text my mobile phone")}),
			"reach your phone")
		if strings.Contains(again.Body, "secret-internal-detail") || strings.Contains(again.Body, "503") || again.Status != http.StatusOK {
			t.Fatalf("failure page leaks the gateway's answer or is not a normal page (%d):\n%s", again.Status, again.Body)
		}
		// Another method works once the gateway is back.
		x.gw.Fail(0, "")
		mustPage(t, b.Submit(again, "form", map[string]string{"enrollment": optionFor(t, again, "Call my alternate phone")}), "We sent a code")
	})
}

// Checklist 50, 53 and 54 on the Security info page: after a step-up with
// the mobile phone, an office phone is added through the page; a refused
// number or extension is explained and never called; the number is bound
// only once the code the call said is entered.
func TestEndToEndRegistration(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		x := startE2E(t, dbURL)
		x.enroll(t, method.Mobile, method.Input{"phone": "+12015550106"}, "+12015550106")
		rp := x.s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := x.s.NewBrowser(t)
		a := rp.Start()
		if res := b.SignIn(mustPage(t, b.Get(a.URL), "Sign in"), pt.Username, pt.Password); res.Redirect == nil {
			t.Fatalf("sign-in: %s", res)
		}
		info := mustPage(t, b.Get(x.s.URL+"/security-info"), "Before you view or change your security info")
		id, _ := info.Doc.Find(`input[name="enrollment"]`).First().Attr("value")
		code := mustPage(t, b.Submit(info, "form", map[string]string{"enrollment": id}), "We sent a code")
		mustPage(t, b.Submit(code, "form", map[string]string{"code": x.gw.SMSCode("+12015550106")}), "Add sign-in method")

		add := mustPage(t, b.Get(x.s.URL+"/security-info/add/office-phone"), "Add Office phone")
		before := x.gw.Requests()
		for _, bad := range []struct{ phone, ext, why string }{
			{"+1 900 234 5678", "", "Premium-rate numbers"},
			{"201 555 0107", "7a", "digits only"},
			{"201 555 0107", "12345678901", "at most 10 digits"},
			{"+33 1 23 45 67 89", "", "country"},
		} {
			add = mustPage(t, b.Submit(add, "form", map[string]string{"phone": bad.phone, "country": "US", "extension": bad.ext}), bad.why)
		}
		if x.gw.Requests() != before {
			t.Fatal("a refused registration called the gateway")
		}
		sent := mustPage(t, b.Submit(add, "form", map[string]string{"phone": "201 555 0107", "country": "US", "extension": "77"}), "We sent a code")
		calls := x.gw.Calls()
		last := calls[len(calls)-1]
		if last.To != "+12015550107" || last.SendDigits != "ww77" {
			t.Fatalf("registration call %+v", last)
		}
		if ms, _ := x.store.List(t.Context(), x.s.User.ID); len(ms) != 1 {
			t.Fatal("the number was bound before its code was entered")
		}
		list := mustPage(t, b.Submit(sent, "form", map[string]string{"code": twiliotest.SpokenCode(last)}), "Office phone")
		if !strings.Contains(list.Body, "+1 ••• ••• ••07") && !strings.Contains(list.Body, "&#43;1 ••• ••• ••07") {
			t.Fatalf("the new number is not listed masked:\n%s", list.Body)
		}
		ms, _ := x.store.List(t.Context(), x.s.User.ID)
		if len(ms) != 2 || ms[1].Method != method.OfficePhone || ms[1].Label != "+1 ••• ••• ••07" {
			t.Fatalf("enrollments %+v", ms)
		}
		tg, err := x.m[method.OfficePhone].Target(ms[1])
		if err != nil || tg.Number.E164 != "+12015550107" || tg.Extension != "77" {
			t.Fatalf("stored %+v %v", tg, err)
		}
	})
}
