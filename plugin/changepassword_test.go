package plugin_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/audit"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
	"github.com/latchkeyid/latchkey/provider/user"
)

// signInTwice signs the user in twice, as the change-password tests
// need: in another browser, through a real relying party that holds the
// refresh token it got, and in this one (here), on the change-password
// page.
func signInTwice(t *testing.T, x *plugintest.Env) twice {
	t.Helper()
	rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid", "offline_access")
	other := x.Server.NewBrowser(t)
	a := rp.Start()
	tok, err := rp.Exchange(t.Context(), a, rp.Callback(a, other.SignIn(mustPage(t, other.Get(a.URL), "Sign in"), pt.Username, pt.Password)).Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	here := x.SignIn(t)
	page := mustPage(t, here.Get(x.Server.URL+"/security-info/password"), "Sign out of all other sessions")
	return twice{rp: rp, other: other, tok: tok, here: here, page: page}
}

// twice is what signInTwice set up.
type twice struct {
	rp          *pt.RP
	other, here *pt.Browser
	tok         *pt.Tokens // the other browser's, as its app holds them
	page        *pt.Page   // here's change-password page
}

// otherSignedIn reports whether the other browser still opens the
// change-password page, with where it ended.
func (w twice) otherSignedIn(x *plugintest.Env) (bool, *pt.Result) {
	res := w.other.Get(x.Server.URL + "/security-info/password")
	return res.Page != nil && strings.Contains(res.Page.Body, "Current password"), res
}

// refresh redeems the other browser's refresh token.
func (w twice) refresh(t *testing.T, x *plugintest.Env) (int, map[string]any) {
	t.Helper()
	return x.Server.Refresh(t, pt.WebClient, pt.WebSecret, w.tok.OAuth.RefreshToken)
}

// TestChangePassword: a signed-in user who knows the password changes it
// on Security info: the current password first, then a new one under the
// reset's policy; the change is audited and mailed and, with the box
// checked as it comes, ends every other session and every token; wrong
// current passwords count toward the sign-in lockout.
func TestChangePassword(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAccounts(t, dbURL, &user.Lockout{Threshold: 3, Base: time.Hour, Max: time.Hour})
		ctx := t.Context()
		x.EnrollEmail(t, "alice.home@example.net")
		two := signInTwice(t, x)
		rp, b, page := two.rp, two.here, two.page
		submit := func(cur, pw, confirm, want string) *pt.Page {
			t.Helper()
			res := mustPage(t, b.Submit(page, `form[action="/security-info/password"]`,
				map[string]string{"current_password": cur, "password": pw, "confirm": confirm}), want)
			if strings.Contains(res.Body, "That did not work") {
				t.Errorf("a refusal says only \"That did not work\"")
			}
			return res
		}
		t.Run("refusals-say-what-failed", func(t *testing.T) {
			wrong := submit("not my password", newPW, newPW, "That password is not right")
			if inv, _ := wrong.Doc.Find("#current-password").Attr("aria-invalid"); inv != "true" {
				t.Error("the current password field is not marked")
			}
			submit(pt.Password, newPW, newPW+"x", "did not match")
			submit(pt.Password, "short", "short", "Type a new one in both fields")
			submit(pt.Password, pt.Password, pt.Password, "This is your current password")
		})
		t.Run("changed-and-everything-else-revoked", func(t *testing.T) {
			if page.Doc.Find(`input[name="signout_others"][checked]`).Length() != 1 {
				t.Error(`"Sign out of all other sessions" is not offered checked`)
			}
			done := submit(pt.Password, newPW, newPW, "Your password was changed")
			if done.Doc.Find(`a[href="/security-info"]`).Length() == 0 {
				t.Error("no way back to Security info")
			}
			if _, err := x.Server.Users.Authenticate(ctx, pt.Username, newPW); err != nil {
				t.Errorf("the new password does not sign in: %v", err)
			}
			if status, body := two.refresh(t, x); status == http.StatusOK || body["error"] != "invalid_grant" {
				t.Errorf("a refresh token from before still works: %d %v", status, body)
			}
			if in, res := two.otherSignedIn(x); in || res.Page == nil || !strings.Contains(res.Page.Body, "Sign in") {
				t.Errorf("the other browser is still signed in: %s", res)
			}
			mustPage(t, b.Get(x.Server.URL+"/security-info/password"), "Current password")
			x.Drain(t)
			if mails := x.Outbox.To("alice.home@example.net"); len(mails) == 0 || !strings.Contains(mails[len(mails)-1].Subject, "password") {
				t.Errorf("the user was not told: %+v", mails)
			}
			evs, _ := x.Server.Audit.List(ctx, audit.Filter{UserID: x.Server.User.ID, Type: "password.changed"})
			if len(evs) != 1 {
				t.Errorf("password.changed audited %d times", len(evs))
			}
		})
		t.Run("wrong-current-passwords-lock-the-account", func(t *testing.T) {
			b = x.Server.NewBrowser(t)
			if res := b.SignIn(mustPage(t, b.Get(rp.Start().URL), "Sign in"), pt.Username, newPW); res.Redirect == nil {
				t.Fatalf("sign-in with the new password: %s", res)
			}
			page = mustPage(t, b.Get(x.Server.URL+"/security-info/password"), "Current password")
			for _, guess := range []string{"guess one", "guess two", "guess three"} { // a repeated guess counts once
				submit(guess, "another lantern orchard 7", "another lantern orchard 7", "")
			}
			submit(newPW, "another lantern orchard 7", "another lantern orchard 7", "Too many wrong passwords")
			if _, err := x.Server.Users.Authenticate(ctx, pt.Username, newPW); err == nil {
				t.Error("sign-in still accepts the password after the lockout")
			}
		})
	})
}
