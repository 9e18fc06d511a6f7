package plugin_test

import (
	"net/http"
	"strings"
	"testing"

	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// TestChangePasswordSignOutChoice: two browsers signed in as one user, the
// other one also holding a refresh token from a real OIDC client. Changing
// the password with "Sign out of all other sessions" checked signs the
// other browser out and refuses the token, while this browser stays signed
// in and still signs in to the app; unchecked, the other browser and its
// token keep working.
func TestChangePasswordSignOutChoice(t *testing.T) {
	for _, tc := range []struct {
		name    string
		signOut string // the box's submitted value; "" is unchecked
		others  bool   // the other browser and its token survive
		mail    string // what the user is told
	}{
		{"checked-signs-out-everywhere-else", "on", false, "Every other browser, device and app was signed out."},
		{"unchecked-keeps-the-other-sessions", "", true, "Your other sessions stay signed in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbtestEach(t, func(t *testing.T, dbURL string) {
				x := startAccounts(t, dbURL, nil)
				ctx := t.Context()
				rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid", "offline_access")
				other := x.Server.NewBrowser(t)
				a0 := rp.Start()
				tok, err := rp.Exchange(ctx, a0, rp.Callback(a0, other.SignIn(mustPage(t, other.Get(a0.URL), "Sign in"), pt.Username, pt.Password)).Get("code"))
				if err != nil {
					t.Fatal(err)
				}
				here := x.SignIn(t)
				form := mustPage(t, here.Get(x.Server.URL+"/security-info/password"), "Sign out of all other sessions")
				mustPage(t, here.Submit(form, `form[action="/security-info/password"]`, map[string]string{
					"current_password": pt.Password, "password": newPW, "confirm": newPW, "signout_others": tc.signOut,
				}), "Your password was changed")

				// This browser: still signed in, and its sign-in still
				// yields a code (single sign-on, no password asked).
				mustPage(t, here.Get(x.Server.URL+"/security-info/password"), "Current password")
				a1 := rp.Start()
				if _, err := rp.Exchange(ctx, a1, rp.Callback(a1, here.Get(a1.URL)).Get("code")); err != nil {
					t.Errorf("this browser's sign-in no longer reaches the app: %v", err)
				}

				res := other.Get(x.Server.URL + "/security-info/password")
				otherIn := res.Page != nil && strings.Contains(res.Page.Body, "Current password")
				if otherIn != tc.others {
					t.Errorf("other browser signed in %v, want %v: %s", otherIn, tc.others, res)
				}
				status, body := x.Server.Refresh(t, pt.WebClient, pt.WebSecret, tok.OAuth.RefreshToken)
				if refreshed := status == http.StatusOK; refreshed != tc.others {
					t.Errorf("refresh token accepted %v, want %v: %d %v", refreshed, tc.others, status, body)
				}
				if !tc.others && body["error"] != "invalid_grant" {
					t.Errorf("a revoked refresh token answers %v, want invalid_grant", body)
				}
				if tc.others {
					// The kept session still signs in to the app as well.
					a2 := rp.Start()
					if _, err := rp.Exchange(ctx, a2, rp.Callback(a2, other.Get(a2.URL)).Get("code")); err != nil {
						t.Errorf("the kept session no longer reaches the app: %v", err)
					}
				}
				if _, err := x.Server.Users.Authenticate(ctx, pt.Username, newPW); err != nil {
					t.Errorf("the new password does not sign in: %v", err)
				}
				x.Drain(t)
				mails := x.Outbox.To(x.Server.User.Email)
				if len(mails) != 1 || mails[0].Subject != "Your password was changed" || !strings.Contains(mails[0].Text, tc.mail) {
					t.Errorf("the user was told %+v, want one mail saying %q", mails, tc.mail)
				}
			})
		})
	}
}
