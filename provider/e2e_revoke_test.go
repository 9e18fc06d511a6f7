package provider_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/account"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/session"
)

// heldCallback follows the provider's redirects from startURL in b and
// stops at the callback that would hand out the code.
func heldCallback(t *testing.T, b *pt.Browser, startURL string) string {
	t.Helper()
	u := startURL
	for range 10 {
		res := b.Do(http.MethodGet, u, nil)
		res.Body.Close()
		next, err := res.Request.URL.Parse(res.Header.Get("Location"))
		if err != nil || res.Header.Get("Location") == "" {
			t.Fatalf("GET %s answered %d without a redirect before the callback", u, res.StatusCode)
		}
		if next.Path == "/authorize/callback" {
			return next.String()
		}
		u = next.String()
	}
	t.Fatal("no callback after 10 redirects")
	return ""
}

func noCode(t *testing.T, what string, res *pt.Result) {
	t.Helper()
	if res.Redirect != nil && res.Redirect.Query().Get("code") != "" {
		t.Errorf("%s handed out a code: %s", what, res.Redirect)
	}
	if res.Page != nil && res.Page.Status < 400 {
		t.Errorf("%s answered %d", what, res.Page.Status)
	}
}

// The OP refuses to issue or redeem a code whose sign-in was revoked, or
// happened before the user's password last changed, even when nothing
// else revoked the request (a path that forgot to, or a revocation that
// committed between the sign-in and the callback). A refresh token
// outlives a browser session that ended normally, but not a password
// change.
func TestCodeRefusedWhenSignInRevoked(t *testing.T) {
	cases := []struct {
		name        string
		revoke      func(t *testing.T, s *pt.Server)
		refreshDies bool
	}{
		{"session-revoked", func(t *testing.T, s *pt.Server) {
			var ids []string
			if err := s.DB.Model(&session.Row{}).Where("user_id = ?", s.User.ID).Pluck("id", &ids).Error; err != nil || len(ids) == 0 {
				t.Fatalf("sessions %v: %v", ids, err)
			}
			for _, id := range ids {
				if err := session.NewStore(s.DB, session.WithClock(s.Clock.Now)).Revoke(t.Context(), id); err != nil {
					t.Fatal(err)
				}
			}
		}, false},
		{"password-changed", func(t *testing.T, s *pt.Server) {
			s.Clock.Advance(time.Second)
			if err := s.Users.SetPassword(t.Context(), s.User.ID, "violet kettle drums at noon"); err != nil {
				t.Fatal(err)
			}
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
				ctx := t.Context()
				rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
				b := s.NewBrowser(t)
				_, tok := signIn(t, s, b, rp)
				codeReq := rp.Start()
				code := rp.Callback(codeReq, b.Get(codeReq.URL)).Get("code")
				held := heldCallback(t, b, rp.Start().URL)

				tc.revoke(t, s)

				if _, err := rp.Exchange(ctx, codeReq, code); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
					t.Errorf("code redeemed after the revocation (err %v)", err)
				}
				noCode(t, "the held-back callback", b.Get(held))
				if tc.name == "password-changed" {
					// The browser's session predates the password: single
					// sign-on with it gets no code either.
					a := rp.Start()
					noCode(t, "single sign-on with the old session", b.Get(a.URL))
				}
				status, body := s.Refresh(t, pt.WebClient, pt.WebSecret, tok.OAuth.RefreshToken)
				if dead := status != http.StatusOK; dead != tc.refreshDies {
					t.Errorf("refresh after the revocation: %d %v (want refused: %v)", status, body, tc.refreshDies)
				}
				if tc.refreshDies && body["error"] != "invalid_grant" {
					t.Errorf("refresh refused with %v, want invalid_grant", body)
				}
			})
		})
	}
}

// RevokeAll spares the request a finishing recovery continues
// (Keep.AuthRequest) and ends every other one of the user's.
func TestRevokeAllKeepsTheContinuedRequest(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := s.NewBrowser(t)
		signIn(t, s, b, rp)
		other := heldCallback(t, b, rp.Start().URL)
		a := rp.Start()
		kept := heldCallback(t, b, a.URL)
		ku, err := url.Parse(kept)
		if err != nil {
			t.Fatal(err)
		}
		keptID := ku.Query().Get("id")
		if err := s.OPStore.RevokeUser(t.Context(), s.DB, s.User.ID, s.Clock.Now(), account.Keep{AuthRequest: keptID}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.OPStore.AuthRequest(t.Context(), keptID); err != nil {
			t.Errorf("kept request gone: %v", err)
		}
		noCode(t, "the other request's callback", b.Get(other))
	})
}
