package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
)

// A session thief's loot, taken before the owner (or an administrator)
// acts: a refresh token, a code not yet redeemed, and a request already
// signed in but not yet called back. Beside it, two recoveries of other
// browsers: one proven (at the new-password step) and one waiting for an
// email code.
type loot struct {
	rp       *pt.RP
	thief    *pt.Browser
	refresh  string
	codeReq  *pt.AuthRequest
	code     string
	callback string

	proven     *pt.Browser
	provenPage *pt.Page
	waiting    *pt.Browser
	waitPage   *pt.Page
	waitCode   string
}

const (
	homeAddr = "alice.home@example.net"
	newPass  = "violet kettle drums at noon"
)

// park takes the loot with the account as it is now.
func park(t *testing.T, x *plugintest.Env, secret string) *loot {
	t.Helper()
	ctx := t.Context()
	l := &loot{rp: x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect), thief: x.Server.NewBrowser(t)}
	a := l.rp.Start()
	res := l.thief.SignIn(plugintest.MustPage(t, l.thief.Get(a.URL), "Sign in"), pt.Username, pt.Password)
	tok, err := l.rp.Exchange(ctx, a, l.rp.Callback(a, res).Get("code"))
	if err != nil || tok.OAuth.RefreshToken == "" {
		t.Fatalf("thief's first sign-in: %v (refresh token %q)", err, tok.OAuth.RefreshToken)
	}
	l.refresh = tok.OAuth.RefreshToken
	// Single sign-on in the thief's browser: a code, kept for later.
	l.codeReq = l.rp.Start()
	if l.code = l.rp.Callback(l.codeReq, l.thief.Get(l.codeReq.URL)).Get("code"); l.code == "" {
		t.Fatal("no code by single sign-on")
	}
	// And a request completed by single sign-on whose callback the thief
	// holds back.
	l.callback = holdCallback(t, l.thief, l.rp.Start().URL)

	// Another browser proves the authenticator app and stops at the new
	// password; a third has an email code on its way.
	x.Server.Clock.Advance(31 * time.Second)
	l.proven = x.Server.NewBrowser(t)
	methods := x.RecoverStart(t, l.proven, "", pt.Username)
	verify := plugintest.MustPage(t, l.proven.Submit(methods, "form", map[string]string{"enrollment": plugintest.OptionFor(t, methods, "authenticator app")}),
		"authenticator app")
	c, _ := totp.Code(secret, x.Server.Clock.Now())
	l.provenPage = plugintest.MustPage(t, l.proven.Submit(verify, `form[action$="/verify"]`, map[string]string{"code": c}), "Choose a new password")

	l.waiting = x.Server.NewBrowser(t)
	methods = x.RecoverStart(t, l.waiting, "", pt.Username)
	l.waitPage = plugintest.MustPage(t, l.waiting.Submit(methods, "form", map[string]string{"enrollment": plugintest.OptionFor(t, methods, "a•••e@example.net")}),
		"We sent a code")
	l.waitCode = x.MailCode(t, homeAddr)
	return l
}

// holdCallback follows the provider's redirects from startURL and stops
// at the callback that would hand out the code, returning its URL.
func holdCallback(t *testing.T, b *pt.Browser, startURL string) string {
	t.Helper()
	u := startURL
	for range 10 {
		res := b.Do(http.MethodGet, u, nil)
		res.Body.Close()
		loc := res.Header.Get("Location")
		if loc == "" {
			t.Fatalf("GET %s answered %d without a redirect before the callback", u, res.StatusCode)
		}
		next, err := res.Request.URL.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		if next.Path == "/authorize/callback" {
			return next.String()
		}
		u = next.String()
	}
	t.Fatal("no callback after 10 redirects")
	return ""
}

// dead checks that nothing of the loot works any more.
func (l *loot) dead(t *testing.T, x *plugintest.Env) {
	t.Helper()
	if _, err := l.rp.Exchange(t.Context(), l.codeReq, l.code); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("the parked code still redeems (err %v)", err)
	}
	res := l.thief.Get(l.callback)
	if res.Redirect != nil && res.Redirect.Query().Get("code") != "" {
		t.Errorf("the held-back callback still hands out a code: %s", res.Redirect)
	}
	if res.Page != nil && res.Page.Status < 400 {
		t.Errorf("the held-back callback answered %d", res.Page.Status)
	}
	if status, body := x.Server.Refresh(t, pt.WebClient, pt.WebSecret, l.refresh); status == http.StatusOK || body["error"] != "invalid_grant" {
		t.Errorf("the parked refresh token still works: %d %v", status, body)
	}
	set := l.proven.Submit(l.provenPage, "form", map[string]string{"password": "another fresh passphrase", "confirm": "another fresh passphrase"})
	if set.Page == nil || set.Page.Status != http.StatusForbidden {
		t.Errorf("another browser's proven recovery still sets the password: %s", set)
	}
	code := l.waiting.Submit(l.waitPage, `form[action$="/verify"]`, map[string]string{"code": l.waitCode})
	if code.Page == nil || code.Page.Status != http.StatusForbidden || strings.Contains(code.Page.Body, "Choose a new password") {
		t.Errorf("another browser's mailed code still proves: %s", code)
	}
}

// TestEveryPathRevokesEverything: each way of changing who may act as a
// user (a reset by recovery, an unlock that signs in, the administrator's
// reset-password, disable, delete and sign-out, the owner's "This wasn't
// me") ends every session, refresh token, code, signed-in request and
// other browser's recovery issued before it.
func TestEveryPathRevokesEverything(t *testing.T) {
	paths := []struct {
		name string
		// prepare runs before the loot is taken (a report link must exist
		// before the thief acts); run is the path itself.
		prepare func(t *testing.T, x *plugintest.Env) string
		run     func(t *testing.T, x *plugintest.Env, c *cliEnv, secret, prepared string)
	}{
		{name: "recovery-reset", run: func(t *testing.T, x *plugintest.Env, _ *cliEnv, secret, _ string) {
			x.Server.Clock.Advance(31 * time.Second)
			rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
			a := rp.Start()
			b := x.Server.NewBrowser(t)
			methods := x.RecoverStart(t, b, a.URL, pt.Username)
			verify := plugintest.MustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": plugintest.OptionFor(t, methods, "authenticator app")}),
				"authenticator app")
			c, _ := totp.Code(secret, x.Server.Clock.Now())
			pw := plugintest.MustPage(t, b.Submit(verify, `form[action$="/verify"]`, map[string]string{"code": c}), "Choose a new password")
			// The flow that finishes is spared: it signs in and the app
			// gets its tokens.
			res := plugintest.ContinueToApp(t, b, b.Submit(pw, "form", map[string]string{"password": newPass, "confirm": newPass}))
			if _, err := rp.Exchange(t.Context(), a, rp.Callback(a, res).Get("code")); err != nil {
				t.Fatalf("the reset's own sign-in: %v", err)
			}
		}},
		{name: "unlock-with-sign-in", run: func(t *testing.T, x *plugintest.Env, _ *cliEnv, secret, _ string) {
			if err := x.Server.Users.Lock(t.Context(), x.Server.User.ID, x.Server.Clock.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			x.Server.Clock.Advance(31 * time.Second)
			rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
			a := rp.Start()
			b := x.Server.NewBrowser(t)
			start := x.RecoverPage(t, b, a.URL)
			choice := plugintest.MustPage(t, b.Submit(start, `form[action="/recover"]`, map[string]string{"username": pt.Username, "captcha": x.Solve(start)}),
				"still can't sign in")
			methods := plugintest.MustPage(t, b.Submit(choice, "form", map[string]string{"intent": "unlock"}), "Verify it's you")
			verify := plugintest.MustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": plugintest.OptionFor(t, methods, "authenticator app")}),
				"authenticator app")
			c, _ := totp.Code(secret, x.Server.Clock.Now())
			done := plugintest.MustPage(t, b.Submit(verify, `form[action$="/verify"]`, map[string]string{"code": c}), "Your account is unlocked")
			href, _ := done.Doc.Find(`a:contains("Sign in")`).Attr("href")
			next, _ := done.URL.Parse(href)
			res := b.SignIn(plugintest.MustPage(t, b.Get(next.String()), "Sign in"), pt.Username, pt.Password)
			if _, err := rp.Exchange(t.Context(), a, rp.Callback(a, res).Get("code")); err != nil {
				t.Fatalf("sign-in after the unlock: %v", err)
			}
		}},
		{name: "cli-reset-password", run: func(t *testing.T, _ *plugintest.Env, c *cliEnv, _, _ string) {
			c.must(newPass+"\n", "user", "reset-password", pt.Username, "--password-stdin")
		}},
		{name: "cli-disable", run: func(t *testing.T, _ *plugintest.Env, c *cliEnv, _, _ string) {
			c.must("", "user", "disable", pt.Username)
		}},
		{name: "cli-lock", run: func(t *testing.T, _ *plugintest.Env, c *cliEnv, _, _ string) {
			c.must("", "user", "lock", pt.Username)
		}},
		{name: "cli-delete", run: func(t *testing.T, _ *plugintest.Env, c *cliEnv, _, _ string) {
			c.must("", "user", "delete", pt.Username)
		}},
		{name: "cli-sign-out", run: func(t *testing.T, _ *plugintest.Env, c *cliEnv, _, _ string) {
			c.must("", "user", "sign-out", pt.Username)
		}},
		{name: "this-was-not-me",
			prepare: func(t *testing.T, x *plugintest.Env) string {
				// The owner is told of a change (a method added) with the
				// report link; the thief acts after that mail went out.
				en, err := x.Store.List(t.Context(), x.Server.User.ID)
				if err != nil || len(en) == 0 {
					t.Fatalf("enrolments: %v %v", en, err)
				}
				if err := x.Plugin.MethodChanged(t.Context(), x.Server.User.ID, en[0], true); err != nil {
					t.Fatal(err)
				}
				x.Drain(t)
				for _, m := range x.Outbox.To(pt.Email) {
					for _, f := range strings.Fields(m.Text) {
						if strings.Contains(f, "/recover/report/") {
							x.Outbox.Clear()
							return f
						}
					}
				}
				t.Fatal("no report link mailed")
				return ""
			},
			run: func(t *testing.T, x *plugintest.Env, _ *cliEnv, _, link string) {
				b := x.Server.NewBrowser(t)
				page := plugintest.MustPage(t, b.Get(link), "Lock my account")
				plugintest.MustPage(t, b.Submit(page, "form", nil), "Your account is locked")
			}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, dbURL string) {
				x := plugintest.Start(t, dbURL, plugintest.Options{Methods: []string{"totp", "email"}})
				c := newCLI(t, dbURL)
				x.EnrollEmail(t, homeAddr)
				secret := x.EnrollTOTP(t)
				prepared := ""
				if p.prepare != nil {
					prepared = p.prepare(t, x)
				}
				l := park(t, x, secret)
				p.run(t, x, c, secret, prepared)
				l.dead(t, x)
			})
		})
	}
}
