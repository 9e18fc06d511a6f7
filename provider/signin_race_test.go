package provider_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/account"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/user"
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

// TestParallelRightSignInsDoNotLock: 32 browsers signing in to one account
// with its right password at once (threshold 3) may be told to try again
// (503), but the account is never locked, nobody is told it is, and a
// sign-in afterwards succeeds.
func TestParallelRightSignInsDoNotLock(t *testing.T) {
	pt.Each(t, pt.Config{Lockout: &user.Lockout{Threshold: 3, Base: time.Minute}}, func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		const n = 32
		browsers := make([]*pt.Browser, n)
		handoffs := make([]*pt.Handoff, n)
		for i := range n {
			browsers[i] = s.NewBrowser(t)
			handoffs[i] = browsers[i].Authorize(rp)
		}
		var wg sync.WaitGroup
		var codes, busy atomic.Int64
		for i := range n {
			wg.Go(func() {
				res := passwordAt(t, browsers[i], handoffs[i])
				switch last := res.Statuses[len(res.Statuses)-1]; {
				case pt.CodeOf(res) != "":
					codes.Add(1)
				case last == http.StatusServiceUnavailable:
					busy.Add(1)
				default:
					t.Errorf("a right password got status %d: %s", last, res)
				}
			})
		}
		wg.Wait()
		if codes.Load() == 0 {
			t.Fatalf("no browser got a code (%d told to try again)", busy.Load())
		}
		u, err := s.Users.ByID(t.Context(), s.User.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Lockouts != 0 || u.LockedUntil != nil {
			t.Fatalf("right passwords locked the account: lockouts=%d until=%v", u.Lockouts, u.LockedUntil)
		}
		b := s.NewBrowser(t)
		if res := passwordAt(t, b, b.Authorize(rp)); pt.CodeOf(res) == "" {
			t.Fatalf("sign-in after the burst got no code: %s", res)
		}
	})
}
