package provider_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/audit"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// A temporary password an administrator set signs the user in only to
// change it: the sign-in page sends the browser to the change-password
// page, no application gets a code (not by that sign-in, not by single
// sign-on with its session), and once the user has chosen their own
// password a sign-in completes as usual.
func TestTemporaryPasswordMustBeChanged(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		ctx := t.Context()
		const temp = "temporary staple horse"
		hash, err := s.Users.Hasher().Hash(ctx, temp)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Accounts.SetTemporaryPassword(ctx, s.User.ID, hash, nil); err != nil {
			t.Fatal(err)
		}
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := s.NewBrowser(t)
		b.Stop = func(u *url.URL) bool { return u.Path == "/security-info/password" }
		toChange := func(t *testing.T, what string, res *pt.Result) {
			t.Helper()
			if res.Redirect == nil || res.Redirect.Path != "/security-info/password" {
				t.Fatalf("%s: %s, want the change-password page", what, res)
			}
		}

		a := rp.Start()
		res := b.SignIn(b.Get(a.URL).Page, pt.Username, temp)
		toChange(t, "sign-in with the temporary password", res)
		if b.Cookie("__Host-lk_session") == nil && b.Cookie("lk_session") == nil {
			t.Fatal("no session to reach the change-password page with")
		}
		toChange(t, "single sign-on of the same request", b.Get(a.URL))
		toChange(t, "single sign-on of a new request", b.Get(rp.Start().URL))

		events, err := s.Audit.List(ctx, audit.Filter{UserID: s.User.ID, Type: audit.SignIn})
		if err != nil || len(events) == 0 || events[0].Detail == "" {
			t.Fatalf("sign-in not audited: %v %v", events, err)
		}

		// What the change-password page does with the user's own choice.
		s.Clock.Advance(time.Second)
		own, err := s.Users.Hasher().Hash(ctx, "my own violet kettle")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Accounts.ResetPassword(ctx, s.User.ID, own, account.Keep{}, nil); err != nil {
			t.Fatal(err)
		}
		b2 := s.NewBrowser(t)
		a2 := rp.Start()
		code := rp.Callback(a2, b2.SignIn(b2.Get(a2.URL).Page, pt.Username, "my own violet kettle")).Get("code")
		if code == "" {
			t.Fatal("no code after the password was changed")
		}
		if _, err := rp.Exchange(ctx, a2, code); err != nil {
			t.Fatalf("tokens after the change: %v", err)
		}
		b3 := s.NewBrowser(t)
		if res := b3.SignIn(b3.Get(rp.Start().URL).Page, pt.Username, temp); res.Redirect != nil {
			t.Fatalf("the temporary password still works: %s", res)
		}
	})
}
