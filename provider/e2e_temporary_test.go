package provider_test

import (
	"net/url"
	"testing"

	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
)

const (
	tempPW = "temporary staple horse"
	ownPW  = "my own violet kettle 42"
)

// withTemporaryPassword runs the provider with the plugin (whose page
// changes the password) after an administrator gave the test user tempPW.
func withTemporaryPassword(t *testing.T, fn func(t *testing.T, x *plugintest.Env)) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		x := plugintest.Start(t, dbURL, plugintest.Options{Methods: []string{"totp", "email"}})
		ctx := t.Context()
		hash, err := x.Server.Users.Hasher().Hash(ctx, tempPW)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.Server.Accounts.SetTemporaryPassword(ctx, x.Server.User.ID, hash, nil); err != nil {
			t.Fatal(err)
		}
		fn(t, x)
	})
}

// changePage is the change-password page a navigation must end on, for
// the sign-in authRequestID ("" when none is named).
func changePage(t *testing.T, what string, res *pt.Result, authRequestID string) *pt.Page {
	t.Helper()
	if res.Redirect != nil {
		t.Fatalf("%s: %s, want the change-password page and no code", what, res)
	}
	p := plugintest.MustPage(t, res, "temporary password")
	if p.URL.Path != "/security-info/password" || p.URL.Query().Get("authRequestID") != authRequestID {
		t.Fatalf("%s: ended on %s, want the change-password page for %q", what, p.URL, authRequestID)
	}
	return p
}

// change submits the change-password form of page with the temporary
// password as the current one.
func change(b *pt.Browser, page *pt.Page) *pt.Result {
	return b.Submit(page, `form[action="/security-info/password"]`,
		map[string]string{"current_password": tempPW, "password": ownPW, "confirm": ownPW})
}

// A temporary password an administrator set signs the user in only to
// change it: no application gets a code (not by that sign-in, not by
// single sign-on with its session; prompt=none hears
// interaction_required). Once the user has chosen their own
// password on the page, the very sign-in they started at the app
// completes: a real relying party gets its code and verified tokens, and
// the temporary password no longer works.
func TestTemporaryPasswordContinuesTheSignIn(t *testing.T) {
	withTemporaryPassword(t, func(t *testing.T, x *plugintest.Env) {
		ctx := t.Context()
		rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid", "offline_access")
		b := x.Server.NewBrowser(t)
		a := b.Authorize(rp)
		page := changePage(t, "sign-in with the temporary password",
			b.SignIn(plugintest.MustPage(t, b.Get(a.LoginURL), "Sign in"), pt.Username, tempPW), a.ID)
		changePage(t, "single sign-on of the same request", b.Get(a.LoginURL), a.ID)
		other := b.Authorize(rp)
		changePage(t, "single sign-on of a new request", b.Get(other.LoginURL), other.ID)
		// An app that asked for no page hears that one is needed.
		if res := b.Get(b.Authorize(rp, pt.Param("prompt", "none")).LoginURL); pt.CodeOf(res) != "" ||
			res.Redirect == nil || res.Redirect.Query().Get("error") != "interaction_required" {
			t.Fatalf("prompt=none with the temporary password: %s", res)
		}
		if res := b.Get(x.Server.CallbackURL(a.ID)); pt.CodeOf(res) != "" {
			t.Fatalf("the callback gave a code before the change: %s", res)
		}
		events, err := x.Server.Audit.List(ctx, audit.Filter{UserID: x.Server.User.ID, Type: audit.SignIn})
		if err != nil || len(events) == 0 || events[0].Detail == "" {
			t.Fatalf("sign-in not audited: %v %v", events, err)
		}

		res := change(b, page)
		tok, err := rp.Exchange(ctx, a.Auth, rp.Callback(a.Auth, res).Get("code"))
		if err != nil {
			t.Fatalf("tokens for the sign-in that was sent to change the password: %v", err)
		}
		if tok.IDToken.Subject != x.Server.User.ID || tok.OAuth.RefreshToken == "" {
			t.Errorf("tokens for %q (refresh token %t), want %q's", tok.IDToken.Subject, tok.OAuth.RefreshToken != "", x.Server.User.ID)
		}
		// The other request waits no more either: single sign-on answers it.
		if _, err := rp.Exchange(ctx, other.Auth, rp.Callback(other.Auth, b.Get(other.LoginURL)).Get("code")); err != nil {
			t.Errorf("single sign-on after the change: %v", err)
		}
		evs, _ := x.Server.Audit.List(ctx, audit.Filter{UserID: x.Server.User.ID, Type: "password.changed"})
		if len(evs) != 1 {
			t.Errorf("password.changed audited %d times", len(evs))
		}
		b3 := x.Server.NewBrowser(t)
		if res := b3.SignIn(plugintest.MustPage(t, b3.Get(rp.Start().URL), "Sign in"), pt.Username, tempPW); res.Redirect != nil {
			t.Fatalf("the temporary password still works: %s", res)
		}
	})
}

// A policy that asks for security methods at sign-in asks after the
// change, before the app: skipping the registration then continues the
// same sign-in to the app.
func TestTemporaryPasswordThenRegistration(t *testing.T) {
	withTemporaryPassword(t, func(t *testing.T, x *plugintest.Env) {
		x.SetPolicy(t, "register_at_signin=true", "max_skips=3")
		rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := x.Server.NewBrowser(t)
		a := b.Authorize(rp)
		page := changePage(t, "sign-in with the temporary password",
			b.SignIn(plugintest.MustPage(t, b.Get(a.LoginURL), "Sign in"), pt.Username, tempPW), a.ID)
		reg := plugintest.MustPage(t, change(b, page), "Skip for now")
		res := b.Submit(reg, `form[action$="/skip"]`, nil)
		if _, err := rp.Exchange(t.Context(), a.Auth, rp.Callback(a.Auth, res).Get("code")); err != nil {
			t.Fatalf("tokens after the change and the skipped registration: %v", err)
		}
	})
}

// The change continues only a sign-in of this browser. An attacker who
// starts a sign-in at the app and gets the victim to change their
// temporary password on a page naming it gets nothing: the victim's
// password is changed, no code goes to either browser, and the request is
// spent.
func TestTemporaryPasswordForwardedRequest(t *testing.T) {
	withTemporaryPassword(t, func(t *testing.T, x *plugintest.Env) {
		rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		attacker := x.Server.NewBrowser(t)
		theirs := attacker.Authorize(rp)
		victim := x.Server.NewBrowser(t)
		mine := victim.Authorize(rp)
		changePage(t, "the victim's sign-in",
			victim.SignIn(plugintest.MustPage(t, victim.Get(mine.LoginURL), "Sign in"), pt.Username, tempPW), mine.ID)
		forwarded := changePage(t, "the forwarded page",
			victim.Get(x.Server.URL+"/security-info/password?authRequestID="+url.QueryEscape(theirs.ID)), theirs.ID)
		done := change(victim, forwarded)
		if done.Redirect != nil {
			t.Fatalf("the change continued another browser's sign-in: %s", done)
		}
		plugintest.MustPage(t, done, "Your password was changed")
		if res := attacker.Get(x.Server.CallbackURL(theirs.ID)); pt.CodeOf(res) != "" {
			t.Fatalf("the attacker's browser got a code: %s", res)
		}
		if res := attacker.Get(theirs.LoginURL); res.Redirect != nil || res.Page.Doc.Find(`input[name="password"]`).Length() != 0 {
			t.Errorf("the forwarded request still signs in: %s", res)
		}
		evs, _ := x.Server.Audit.List(t.Context(), audit.Filter{Type: "signin.other_browser"})
		if len(evs) == 0 {
			t.Error("the forwarded request is not audited")
		}
	})
}
