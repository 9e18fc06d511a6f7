package plugin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/audit"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// TestSignOutEverywhere: "Sign out everywhere" on Security info, and "I
// lost this device" on a method's delete confirmation, end every session
// and token of the user (this browser's and another device's), audited;
// the lost device's method is gone too.
func TestSignOutEverywhere(t *testing.T) {
	tests := []struct {
		name     string
		lost     bool
		wantGone int // methods deleted
	}{
		{"sign-out-everywhere", false, 0},
		{"lost-device", true, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dbtestEach(t, func(t *testing.T, dbURL string) {
				x := startAccounts(t, dbURL, nil)
				ctx := t.Context()
				secret := x.EnrollTOTP(t)
				x.EnrollEmail(t, "alice.home@example.net")
				rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid", "offline_access")
				other := x.Server.NewBrowser(t)
				a0 := rp.Start()
				tok, err := rp.Exchange(ctx, a0, rp.Callback(a0, other.SignIn(mustPage(t, other.Get(a0.URL), "Sign in"), pt.Username, pt.Password)).Get("code"))
				if err != nil || tok.OAuth.RefreshToken == "" {
					t.Fatalf("other device: %v", err)
				}
				b := x.SignIn(t)
				list := x.StepUpTOTP(t, b, secret)
				var done *pt.Page
				if tc.lost {
					href, _ := list.Doc.Find(`a.si-delete[aria-label*="Authenticator app"]`).Attr("href")
					confirm := mustPage(t, b.Get(x.Server.URL+href), "Delete this method?")
					done = mustPage(t, b.Submit(confirm, `form[action="/security-info/remove"]`, map[string]string{"lost": "yes"}), "You are signed out everywhere")
				} else {
					done = mustPage(t, b.Submit(list, `form[action="/security-info/sign-out-everywhere"]`, nil), "You are signed out everywhere")
				}
				if done.Doc.Find(`a:contains("Sign in again")`).Length() != 1 {
					t.Errorf("no way to sign in again:\n%s", done.Body)
				}
				if ms, _ := x.Store.List(ctx, x.Server.User.ID); len(ms) != 2-tc.wantGone {
					t.Errorf("%d methods left, want %d", len(ms), 2-tc.wantGone)
				}
				if status, body := x.Server.Refresh(t, pt.WebClient, pt.WebSecret, tok.OAuth.RefreshToken); status == http.StatusOK || body["error"] != "invalid_grant" {
					t.Errorf("the other device's refresh token still works: %d %v", status, body)
				}
				for name, br := range map[string]*pt.Browser{"this": b, "other": other} {
					if res := br.Get(rp.Start().URL); res.Page == nil || !strings.Contains(res.Page.Body, "Sign in") {
						t.Errorf("%s browser is still signed in: %s", name, res)
					}
				}
				evs, _ := x.Server.Audit.List(ctx, audit.Filter{UserID: x.Server.User.ID})
				found := false
				for _, ev := range evs {
					found = found || ev.Type == "signout.everywhere"
				}
				if !found {
					t.Error("not audited")
				}
			})
		})
	}
}
