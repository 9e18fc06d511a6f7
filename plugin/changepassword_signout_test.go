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
				two := signInTwice(t, x)
				rp, here := two.rp, two.here
				mustPage(t, here.Submit(two.page, `form[action="/security-info/password"]`, map[string]string{
					"current_password": pt.Password, "password": newPW, "confirm": newPW, "signout_others": tc.signOut,
				}), "Your password was changed")

				// This browser: still signed in, and its sign-in still
				// yields a code (single sign-on, no password asked).
				mustPage(t, here.Get(x.Server.URL+"/security-info/password"), "Current password")
				a1 := rp.Start()
				if _, err := rp.Exchange(ctx, a1, rp.Callback(a1, here.Get(a1.URL)).Get("code")); err != nil {
					t.Errorf("this browser's sign-in no longer reaches the app: %v", err)
				}

				if otherIn, res := two.otherSignedIn(x); otherIn != tc.others {
					t.Errorf("other browser signed in %v, want %v: %s", otherIn, tc.others, res)
				}
				status, body := two.refresh(t, x)
				if refreshed := status == http.StatusOK; refreshed != tc.others {
					t.Errorf("refresh token accepted %v, want %v: %d %v", refreshed, tc.others, status, body)
				}
				if !tc.others && body["error"] != "invalid_grant" {
					t.Errorf("a revoked refresh token answers %v, want invalid_grant", body)
				}
				if tc.others {
					// The kept session still signs in to the app as well.
					a2 := rp.Start()
					if _, err := rp.Exchange(ctx, a2, rp.Callback(a2, two.other.Get(a2.URL)).Get("code")); err != nil {
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
