package plugin_test

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
	"github.com/latchkeyid/latchkey/plugin/method/email"
	"github.com/latchkeyid/latchkey/plugin/method/questions"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/plugin/sender/smtp"
	"github.com/latchkeyid/latchkey/plugin/sender/smtp/smtptest"
	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/password"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/ui"
	lkmail "github.com/latchkeyid/latchkey/ui/mail"
)

// provSignIn adapts the provider to plugin.SignIn, as cmd does.
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

// hook forwards the provider's AfterSignIn to the plugin built later.
type hook struct{ p *plugin.Plugin }

func (h *hook) AfterSignIn(c echo.Context, uid, ar string) (string, error) {
	return h.p.AfterSignIn(c, uid, ar)
}

type e2e struct {
	s       *pt.Server
	smtp    *smtptest.Server
	store   *method.Store
	email   *email.Method
	totp    *totp.Method
	policy  *policy.Store
	captcha *captcha.BuiltinVerifier
}

// startE2E runs the real provider (TLS, __Host- cookies) with the plugin
// mounted, mail going through a real SMTP server on loopback.
func startE2E(t *testing.T, dbURL string, lockout ...user.Lockout) *e2e {
	x := &e2e{smtp: smtptest.Start(t)}
	h := &hook{}
	var lo *user.Lockout
	if len(lockout) > 0 {
		lo = &lockout[0]
	}
	x.s = pt.Start(t, dbURL, pt.Config{
		Lockout:  lo,
		Provider: func(o *provider.Options) { o.AfterSignIn = h },
		Mount: func(s *pt.Server, e *echo.Echo) {
			ctx := context.Background()
			if err := db.Migrate(ctx, s.DB, schema.Set()); err != nil {
				t.Fatal(err)
			}
			snd, err := smtp.New(x.smtp.URL("latchkey@example.com"))
			if err != nil {
				t.Fatal(err)
			}
			q := sender.NewQueue(s.DB, s.Keyring, []sender.Sender{snd}, sender.WithPoll(20*time.Millisecond),
				sender.WithQueueClock(s.Clock.Now))
			qctx, cancel := context.WithCancel(ctx)
			t.Cleanup(cancel)
			go q.Run(qctx)
			x.store = method.NewStore(s.DB, method.WithStoreClock(s.Clock.Now))
			codes := method.NewCodes(s.DB, s.Keyring, method.WithCodeClock(s.Clock.Now))
			tmpl, err := lkmail.New(s.URL)
			if err != nil {
				t.Fatal(err)
			}
			x.policy = policy.NewStore(s.DB, policy.Default([]string{"email", "totp"}))
			x.email = email.New(codes, q, tmpl, s.Keyring)
			x.totp = totp.New(x.store, s.Keyring, s.URL, totp.WithClock(s.Clock.Now))
			qs := questions.New(s.DB, password.NewHasher(fastHash), s.Keyring, func(ctx context.Context) (int, int, error) {
				p, err := x.policy.Get(ctx)
				return p.QuestionsRegister, p.QuestionsAsk, err
			})
			reg, _ := method.NewRegistry(x.totp, x.email, qs)
			x.captcha = captcha.NewBuiltin(s.DB, captcha.WithClock(s.Clock.Now))
			r, _ := ui.New()
			h.p, err = plugin.Mount(e.Group(""), plugin.Deps{
				DB: s.DB, Users: s.Users, Audit: s.Audit, Keys: s.Keyring, Methods: reg, Enrollments: x.store,
				Codes: codes, Policy: x.policy, Queue: q, Captcha: x.captcha, SignIn: provSignIn{s.Provider},
				Renderer: r, Issuer: s.URL, Now: s.Clock.Now, Mail: tmpl,
			})
			if err != nil {
				t.Fatal(err)
			}
		},
	})
	return x
}

// solve reads the builtin CAPTCHA of page from its store, as a person
// reads the picture.
func (x *e2e) solve(p *pt.Page) string {
	id, _ := p.Doc.Find(`input[name="captcha_id"]`).Attr("value")
	var s strings.Builder
	for _, d := range x.captcha.Store().Get(id, false) {
		s.WriteByte('0' + d)
	}
	return s.String()
}

func (x *e2e) code(t *testing.T, addr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := x.smtp.Code(ctx, addr)
	if err != nil {
		t.Fatalf("no code mailed to %s: %v", addr, err)
	}
	x.smtp.Clear()
	return c
}

func mustPage(t *testing.T, r *pt.Result, contains string) *pt.Page {
	t.Helper()
	if r.Page == nil || !strings.Contains(r.Page.Body, contains) {
		t.Fatalf("want a page containing %q, got %s\n%v", contains, r, func() string {
			if r.Page != nil {
				return r.Page.Body
			}
			return ""
		}())
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
	start := mustPage(t, b.Get(login.URL.ResolveReference(mustURL(href)).String()), "Get back into your account")
	if csp := start.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("recover page CSP %q", csp)
	}
	choice := mustPage(t, b.Submit(start, `form[action="/recover"]`, map[string]string{"username": pt.Username, "captcha": x.solve(start)}),
		"I forgot my password")
	// Under https the binding cookie is __Host- prefixed (so Secure,
	// Path=/, no Domain) and opaque.
	if ck := b.Cookie("__Host-lk_flow"); ck == nil || len(ck.Value) < 26 {
		t.Errorf("binding cookie %+v", ck)
	}
	return mustPage(t, b.Submit(choice, "form", map[string]string{"intent": "reset"}), "Verify it's you")
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

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

// finish sets the new password and checks the RP gets verified tokens
// with amr naming the proofs, and that the old password is dead.
func (x *e2e) finish(t *testing.T, b *pt.Browser, rp *pt.RP, a *pt.AuthRequest, pwPage *pt.Page, wantAMR []string) {
	t.Helper()
	res := b.Submit(pwPage, "form", map[string]string{"password": newPW, "confirm": newPW})
	if res.Redirect == nil {
		t.Fatalf("reset did not return to the app: %s", res)
	}
	if last := res.Statuses[len(res.Statuses)-1]; last != http.StatusSeeOther && last != http.StatusFound {
		t.Errorf("credential POST answered %d", last)
	}
	q := rp.Callback(a, res)
	tok, err := rp.Exchange(t.Context(), a, q.Get("code"))
	if err != nil {
		t.Fatalf("RP token exchange: %v", err)
	}
	var claims struct {
		AMR      []string `json:"amr"`
		AuthTime int64    `json:"auth_time"`
	}
	if err := tok.IDToken.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(claims.AMR, wantAMR) || slices.Contains(claims.AMR, "pwd") {
		t.Errorf("amr %v, want %v", claims.AMR, wantAMR)
	}
	if tok.IDToken.Subject != x.s.User.ID {
		t.Errorf("sub %s", tok.IDToken.Subject)
	}
	if _, err := x.s.Users.Authenticate(t.Context(), pt.Username, pt.Password); err == nil {
		t.Error("the old password still signs in")
	}
	b2 := x.s.NewBrowser(t)
	a2 := rp.Start()
	login := mustPage(t, b2.Get(a2.URL), "Sign in")
	if res := b2.SignIn(login, pt.Username, newPW); res.Redirect == nil {
		t.Errorf("the new password does not sign in: %s", res)
	}
}

func TestEndToEndResetWithEmail(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startE2E(t, dbURL)
		ctx := t.Context()
		u := x.s.User
		r := method.Ref{ID: u.ID, Username: u.Username, Email: u.Email}
		p, err := x.email.Begin(ctx, "enroll", r, method.Input{"address": "alice.home@example.net"})
		if err != nil {
			t.Fatal(err)
		}
		en, res, err := x.email.Finish(ctx, "enroll", r, p, method.Input{"code": x.code(t, "alice.home@example.net")})
		if err != nil || !res.OK {
			t.Fatalf("enroll: %v %+v", err, res)
		}
		if err := x.store.Add(ctx, &en, 0); err != nil {
			t.Fatal(err)
		}
		rp := x.s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid", "offline_access")
		// Another device signed in before the reset holds a refresh token.
		b0 := x.s.NewBrowser(t)
		a0 := rp.Start()
		before, err := rp.Exchange(ctx, a0, rp.Callback(a0, b0.SignIn(mustPage(t, b0.Get(a0.URL), "Sign in"), pt.Username, pt.Password)).Get("code"))
		if err != nil || before.OAuth.RefreshToken == "" {
			t.Fatalf("sign-in before the reset: %v (refresh token %q)", err, before.OAuth.RefreshToken)
		}
		a := rp.Start()
		b := x.s.NewBrowser(t)
		methods := x.recoverFromSignIn(t, b, a.URL)
		verify := mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "a•••e@example.net")}),
			"We sent a code")
		if verify.Header.Get("Cache-Control") != "no-store" || verify.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("code page headers: %v", verify.Header)
		}
		pw := mustPage(t, b.Submit(verify, `form[action$="/verify"]`, map[string]string{"code": x.code(t, "alice.home@example.net")}),
			"Choose a new password")
		x.finish(t, b, rp, a, pw, []string{"email"})
		// E36: every refresh token of the user fails after the reset, and
		// the other browser's session is gone.
		if status, body := x.s.Refresh(t, pt.WebClient, pt.WebSecret, before.OAuth.RefreshToken); status == http.StatusOK || body["error"] != "invalid_grant" {
			t.Errorf("refresh after reset: %d %v", status, body)
		}
		if active, _ := x.s.Introspect(t, pt.WebClient, pt.WebSecret, before.OAuth.AccessToken); active {
			t.Error("access token from before the reset is still active")
		}
		a3 := rp.Start()
		if res := b0.Get(a3.URL); res.Page == nil || !strings.Contains(res.Page.Body, "Sign in") {
			t.Errorf("the other browser is still signed in: %s", res)
		}
	})
}

func TestEndToEndResetWithTOTP(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startE2E(t, dbURL)
		ctx := t.Context()
		u := x.s.User
		r := method.Ref{ID: u.ID, Username: u.Username, Email: u.Email}
		p, err := x.totp.Begin(ctx, "enroll", r, nil)
		if err != nil {
			t.Fatal(err)
		}
		code, _ := totp.Code(p.Prompt.Secret, x.s.Clock.Now())
		en, res, err := x.totp.Finish(ctx, "enroll", r, p, method.Input{"code": code})
		if err != nil || !res.OK {
			t.Fatalf("enroll: %v %+v", err, res)
		}
		if err := x.store.Add(ctx, &en, 0); err != nil {
			t.Fatal(err)
		}
		x.s.Clock.Advance(31 * time.Second)
		rp := x.s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		a := rp.Start()
		b := x.s.NewBrowser(t)
		methods := x.recoverFromSignIn(t, b, a.URL)
		verify := mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "authenticator app")}),
			"authenticator app")
		code, _ = totp.Code(p.Prompt.Secret, x.s.Clock.Now())
		pw := mustPage(t, b.Submit(verify, `form[action$="/verify"]`, map[string]string{"code": code}), "Choose a new password")
		x.finish(t, b, rp, a, pw, []string{"otp"})
	})
}

func (x *e2e) setPolicy(t *testing.T, settings ...string) {
	t.Helper()
	p, err := x.policy.Get(t.Context())
	if err == nil {
		p, err = policy.Apply(p, settings)
	}
	if err == nil {
		err = x.policy.Set(t.Context(), p)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (x *e2e) enrollEmail(t *testing.T, addr string) {
	t.Helper()
	ctx := t.Context()
	u := x.s.User
	r := method.Ref{ID: u.ID, Username: u.Username, Email: u.Email}
	p, err := x.email.Begin(ctx, "enroll", r, method.Input{"address": addr})
	if err != nil {
		t.Fatal(err)
	}
	en, res, err := x.email.Finish(ctx, "enroll", r, p, method.Input{"code": x.code(t, addr)})
	if err != nil || !res.OK {
		t.Fatalf("enroll: %v %+v", err, res)
	}
	if err := x.store.Add(ctx, &en, 0); err != nil {
		t.Fatal(err)
	}
}

// waitMail waits for a message to addr whose text contains want.
func (x *e2e) waitMail(t *testing.T, addr, want string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	m, err := x.smtp.WaitMatch(ctx, addr, func(m smtptest.Message) bool { return strings.Contains(m.Text, want) })
	if err != nil {
		t.Fatalf("no mail to %s containing %q: %v", addr, want, err)
	}
	return m.Text
}
