package plugin_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method/totp"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
	"github.com/latchkeyid/latchkey/provider/user"
)

// startE2E runs the real provider (TLS, __Host- cookies) with the plugin
// mounted, mail going through a real SMTP server on loopback.
func startE2E(t *testing.T, dbURL string, lockout ...user.Lockout) *plugintest.Env {
	o := plugintest.Options{Methods: []string{"totp", "email"}, RegisterAtSignIn: true, SMTP: true}
	if len(lockout) > 0 {
		o.Lockout = &lockout[0]
	}
	return plugintest.Start(t, dbURL, o)
}

var (
	mustPage  = plugintest.MustPage
	optionFor = plugintest.OptionFor
)

// recoverFromSignIn goes RP → sign-in page → "Can't access your
// account?" → name + CAPTCHA → "I forgot my password" → method page.
func recoverFromSignIn(t *testing.T, x *plugintest.Env, b *pt.Browser, startURL string) *pt.Page {
	t.Helper()
	start := x.RecoverPage(t, b, startURL)
	if csp := start.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("recover page CSP %q", csp)
	}
	methods := x.Recover(t, b, start, pt.Username)
	// Under https the binding cookie is __Host- prefixed (so Secure,
	// Path=/, no Domain) and opaque.
	if ck := b.Cookie("__Host-lk_flow"); ck == nil || len(ck.Value) < 26 {
		t.Errorf("binding cookie %+v", ck)
	}
	return methods
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

// finish sets the new password and checks the RP gets verified tokens
// with amr naming the proofs, and that the old password is dead.
func finish(t *testing.T, x *plugintest.Env, b *pt.Browser, rp *pt.RP, a *pt.AuthRequest, pwPage *pt.Page, wantAMR []string) {
	t.Helper()
	res := plugintest.ContinueToApp(t, b, b.Submit(pwPage, "form", map[string]string{"password": newPW, "confirm": newPW}))
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
	if tok.IDToken.Subject != x.Server.User.ID {
		t.Errorf("sub %s", tok.IDToken.Subject)
	}
	if _, err := x.Server.Users.Authenticate(t.Context(), pt.Username, pt.Password); err == nil {
		t.Error("the old password still signs in")
	}
	b2 := x.Server.NewBrowser(t)
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
		x.EnrollEmail(t, "alice.home@example.net")
		rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid", "offline_access")
		// Another device signed in before the reset holds a refresh token.
		b0 := x.Server.NewBrowser(t)
		a0 := rp.Start()
		before, err := rp.Exchange(ctx, a0, rp.Callback(a0, b0.SignIn(mustPage(t, b0.Get(a0.URL), "Sign in"), pt.Username, pt.Password)).Get("code"))
		if err != nil || before.OAuth.RefreshToken == "" {
			t.Fatalf("sign-in before the reset: %v (refresh token %q)", err, before.OAuth.RefreshToken)
		}
		a := rp.Start()
		b := x.Server.NewBrowser(t)
		methods := recoverFromSignIn(t, x, b, a.URL)
		verify := mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "a•••e@example.net")}),
			"We sent a code")
		if verify.Header.Get("Cache-Control") != "no-store" || verify.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("code page headers: %v", verify.Header)
		}
		pw := mustPage(t, b.Submit(verify, `form[action$="/verify"]`, map[string]string{"code": x.MailCode(t, "alice.home@example.net")}),
			"Choose a new password")
		finish(t, x, b, rp, a, pw, []string{"otp"})
		// E36: every refresh token of the user fails after the reset, and
		// the other browser's session is gone.
		if status, body := x.Server.Refresh(t, pt.WebClient, pt.WebSecret, before.OAuth.RefreshToken); status == http.StatusOK || body["error"] != "invalid_grant" {
			t.Errorf("refresh after reset: %d %v", status, body)
		}
		if active, _ := x.Server.Introspect(t, pt.WebClient, pt.WebSecret, before.OAuth.AccessToken); active {
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
		secret := x.EnrollTOTP(t)
		x.Server.Clock.Advance(time.Second) // 31 s after the enrolment's code
		rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		a := rp.Start()
		b := x.Server.NewBrowser(t)
		methods := recoverFromSignIn(t, x, b, a.URL)
		verify := mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "authenticator app")}),
			"authenticator app")
		code, _ := totp.Code(secret, x.Server.Clock.Now())
		pw := mustPage(t, b.Submit(verify, `form[action$="/verify"]`, map[string]string{"code": code}), "Choose a new password")
		finish(t, x, b, rp, a, pw, []string{"otp"})
	})
}
