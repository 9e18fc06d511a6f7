package plugin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/audit"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// A temporary password an administrator set, used on the sign-in page
// itself (no application asked): the sign-in lands on the change-password
// page, which changes it and says so, and then a sign-in with the user's
// own password reaches the application with a code. (A sign-in an
// application started continues to it after the change:
// provider/e2e_temporary_test.go.)
func TestTemporaryPasswordJourney(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAccounts(t, dbURL, nil)
		ctx := t.Context()
		const temp = "handed over by the helpdesk"
		hash, err := x.Server.Users.Hasher().Hash(ctx, temp)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.Server.Accounts.SetTemporaryPassword(ctx, x.Server.User.ID, hash, nil); err != nil {
			t.Fatal(err)
		}
		rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := x.Server.NewBrowser(t)
		res := b.SignIn(mustPage(t, b.Get(x.Server.URL+"/login"), "Sign in"), pt.Username, temp)
		if res.Redirect != nil || res.Page.URL.Path != "/security-info/password" || res.Page.URL.RawQuery != "" {
			t.Fatalf("sign-in with the temporary password: %s", res)
		}
		page := mustPage(t, res, "temporary password")
		done := b.Submit(page, `form[action="/security-info/password"]`,
			map[string]string{"current_password": temp, "password": newPW, "confirm": newPW})
		mustPage(t, done, "Your password was changed")
		b2 := x.Server.NewBrowser(t)
		a := rp.Start()
		code := rp.Callback(a, b2.SignIn(mustPage(t, b2.Get(a.URL), "Sign in"), pt.Username, newPW)).Get("code")
		if _, err := rp.Exchange(ctx, a, code); err != nil {
			t.Fatalf("tokens after choosing a password: %v", err)
		}
	})
}

// A setup link over HTTP: opening it shows the form and uses nothing up;
// a password the policy refuses keeps the link; the accepted one is
// stored, the link is spent, and the user signs in with the password.
func TestSetupLinkJourney(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAccounts(t, dbURL, nil)
		ctx := t.Context()
		s := x.Server
		if err := s.Accounts.ClearPassword(ctx, s.User.ID, nil); err != nil {
			t.Fatal(err)
		}
		tok, _, err := s.Users.IssueSetupLink(ctx, s.User.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		link := s.URL + "/security-info/setup?token=" + url.QueryEscape(tok)
		b := s.NewBrowser(t)
		mustPage(t, b.Get(link), "Set your password") // a mail scanner's visit
		page := mustPage(t, b.Get(link), "Set your password")
		if page.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("the page with the token in its URL sends a Referer: %q", page.Header.Get("Referrer-Policy"))
		}
		form := `form[action="/security-info/setup"]`
		refused := mustPage(t, b.Submit(page, form, map[string]string{"password": newPW, "confirm": newPW + "x"}), "did not match")
		mustPage(t, b.Submit(refused, form, map[string]string{"password": "short", "confirm": "short"}), "Type a new one in both fields")
		done := mustPage(t, b.Submit(refused, form, map[string]string{"password": newPW, "confirm": newPW}), "Your password is set")
		if done.Doc.Find(`a:contains("Sign in")`).Length() == 0 {
			t.Error("no way to sign in")
		}
		for _, what := range []string{"the spent link", "a made-up token"} {
			u := link
			if what == "a made-up token" {
				u = s.URL + "/security-info/setup?token=NOPE"
			}
			res := b.Get(u)
			if res.Page == nil || res.Page.Status != http.StatusGone || !strings.Contains(res.Page.Body, "This link no longer works") {
				t.Errorf("%s: %s", what, res)
			}
		}
		if res := b.Submit(refused, form, map[string]string{"password": "another orchard lantern", "confirm": "another orchard lantern"}); res.Page == nil || res.Page.Status != http.StatusGone {
			t.Errorf("a second submit with the spent link: %s", res)
		}
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b2 := s.NewBrowser(t)
		a := rp.Start()
		code := rp.Callback(a, b2.SignIn(mustPage(t, b2.Get(a.URL), "Sign in"), pt.Username, newPW)).Get("code")
		if _, err := rp.Exchange(ctx, a, code); err != nil {
			t.Fatalf("tokens with the password set by the link: %v", err)
		}
		evs, err := s.Audit.List(ctx, audit.Filter{UserID: s.User.ID, Type: "password.set"})
		if err != nil || len(evs) != 1 {
			t.Errorf("password.set audited %d times (%v)", len(evs), err)
		}
	})
}
