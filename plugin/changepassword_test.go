package plugin_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/audit"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/user"
)

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
		rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid", "offline_access")
		other := x.Server.NewBrowser(t)
		a0 := rp.Start()
		tok, err := rp.Exchange(ctx, a0, rp.Callback(a0, other.SignIn(mustPage(t, other.Get(a0.URL), "Sign in"), pt.Username, pt.Password)).Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		b := x.SignIn(t)
		page := mustPage(t, b.Get(x.Server.URL+"/security-info/password"), "Current password")
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
			if status, body := x.Server.Refresh(t, pt.WebClient, pt.WebSecret, tok.OAuth.RefreshToken); status == http.StatusOK || body["error"] != "invalid_grant" {
				t.Errorf("a refresh token from before still works: %d %v", status, body)
			}
			if res := other.Get(x.Server.URL + "/security-info/password"); res.Page == nil || !strings.Contains(res.Page.Body, "Sign in") {
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
