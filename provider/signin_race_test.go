package provider_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/account"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// TestResetDuringSignInEndsIt: a reset that commits after a sign-in's
// password was checked but before its session exists must not leave that
// sign-in standing (the reset revoked everything before it, and this
// session came after). The reset is run from a database hook just before
// the session row is written, so the interleaving is exact.
func TestResetDuringSignInEndsIt(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		hash, err := s.Users.Hasher().Hash(t.Context(), "a brand new passphrase 4471")
		if err != nil {
			t.Fatal(err)
		}
		var armed atomic.Bool
		armed.Store(true)
		err = s.DB.Callback().Create().Before("gorm:create").Register("test:reset-meanwhile", func(db *gorm.DB) {
			if db.Statement.Table != "user_sessions" || !armed.CompareAndSwap(true, false) {
				return
			}
			if err := s.Accounts.ResetPassword(context.Background(), s.User.ID, hash, account.Keep{}, nil); err != nil {
				t.Error(err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.DB.Callback().Create().Remove("test:reset-meanwhile") })

		b := s.NewBrowser(t)
		h := b.Authorize(rp)
		res := passwordAt(t, b, h)
		if armed.Load() {
			t.Fatal("the hook never ran: no session was created")
		}
		if code := pt.CodeOf(res); code != "" {
			t.Fatalf("a sign-in checked against the old password got a code after the reset: %s", res)
		}
		if last := res.Statuses[len(res.Statuses)-1]; last != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401 (the sign-in is refused): %s", last, res)
		}
		if got := b.Get(s.URL + "/"); got.Page != nil && got.Page.Doc.Find(`form[action="/logout"]`).Length() > 0 {
			t.Fatal("the browser is still signed in after the reset")
		}
	})
}
