package user_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/user"
)

// TestParallelGuessesEvaluateAtMostTheThreshold: the failure is reserved
// on the account's row before the hash, so however many wrong passwords
// race, at most the threshold are hashed; the rest are refused unchecked
// ("try again" while the reserved ones are in flight, "locked" after),
// and the account ends locked.
func TestParallelGuessesEvaluateAtMostTheThreshold(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		for _, login := range []string{"alice", "no-such-name"} {
			t.Run(login, func(t *testing.T) {
				h := f.s.Hasher()
				before := h.Evaluations()
				const n = 100
				var wg sync.WaitGroup
				var locked, wrong, inFlight atomic.Int64
				for i := range n {
					wg.Go(func() {
						_, err := f.s.Authenticate(ctx, login, fmt.Sprintf("parallel %d", i))
						var le *user.LockedError
						switch {
						case errors.As(err, &le):
							locked.Add(1)
						case errors.Is(err, user.ErrBadCredentials):
							wrong.Add(1)
						case errors.Is(err, user.ErrInFlight):
							inFlight.Add(1)
						default:
							t.Errorf("Authenticate = %v", err)
						}
					})
				}
				wg.Wait()
				if d := h.Evaluations() - before; d > 10 {
					t.Fatalf("%d of %d parallel guesses hashed, want at most the threshold 10", d, n)
				}
				if refused := locked.Load() + inFlight.Load(); refused < n-10 {
					t.Fatalf("%d refused unchecked (%d locked, %d in flight), %d wrong", refused, locked.Load(), inFlight.Load(), wrong.Load())
				}
				if _, err := f.s.Authenticate(ctx, login, "after the burst"); lockedUntil(t, err).IsZero() {
					t.Fatal("not locked after the burst")
				}
			})
		}
	})
}

// TestUnknownNameLockout: a name no account has is counted by its
// normalised form, locked after the threshold for the same time a real
// account would be, and forgotten by CleanupLockouts once idle.
func TestUnknownNameLockout(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g, user.WithLockout(user.Lockout{Threshold: 3, Base: time.Minute}))
		ctx := t.Context()
		var real, unknown error
		for i, login := range []string{"Ghost", "ghost", " ＧＨＯＳＴ "} {
			_, real = f.s.Authenticate(ctx, "alice", fmt.Sprintf("wrong %d", i))
			_, unknown = f.s.Authenticate(ctx, login, fmt.Sprintf("wrong %d", i))
		}
		if ru, uu := lockedUntil(t, real), lockedUntil(t, unknown); !ru.Equal(uu) {
			t.Fatalf("real locked until %v, unknown until %v", ru, uu)
		}
		if _, err := f.s.Authenticate(ctx, "GHOST", "anything"); lockedUntil(t, err).IsZero() {
			t.Fatal("no lock for another spelling")
		}
		if _, err := f.s.Authenticate(ctx, "ghost2", "anything"); !errors.Is(err, user.ErrBadCredentials) {
			t.Fatalf("another name = %v, want its own count", err)
		}
		// Locked rows are kept; idle unlocked ones go.
		f.clock.Advance(2 * time.Minute)
		n, err := f.s.CleanupLockouts(ctx, f.clock.Now().Add(-time.Minute))
		if err != nil || n != 2 {
			t.Fatalf("cleanup removed %d (%v), want the two now-unlocked idle names", n, err)
		}
		var left int64
		if err := g.Table("login_lockouts").Count(&left).Error; err != nil || left != 0 {
			t.Fatalf("%d rows left (%v)", left, err)
		}
	})
}

// TestAuthenticateAs: a login that names another user than the expected
// one is refused before any hash and leaves that user's counters alone;
// the expected user is counted as by Authenticate.
func TestAuthenticateAs(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		h := f.s.Hasher()
		for _, tt := range []struct{ name, login, pw string }{
			{"other-user-right-password", "alice", alicePW},
			{"other-user-wrong-password", "alice", "not it"},
			{"unknown-name", "nobody", "not it"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				before := h.Evaluations()
				if _, err := f.s.AuthenticateAs(ctx, tt.login, tt.pw, "someone-else"); !errors.Is(err, user.ErrOtherUser) {
					t.Fatalf("AuthenticateAs = %v, want ErrOtherUser", err)
				}
				if h.Evaluations() != before {
					t.Fatal("a password was hashed")
				}
				if u, _ := f.s.ByID(ctx, f.alice.ID); u.FailedLogins != 0 {
					t.Fatalf("alice's count moved to %d", u.FailedLogins)
				}
			})
		}
		t.Run("expected-user-counted", func(t *testing.T) {
			if _, err := f.s.AuthenticateAs(ctx, "alice", "not it", f.alice.ID); !errors.Is(err, user.ErrBadCredentials) {
				t.Fatalf("wrong password = %v", err)
			}
			if u, _ := f.s.ByID(ctx, f.alice.ID); u.FailedLogins != 1 {
				t.Fatalf("FailedLogins = %d, want 1", u.FailedLogins)
			}
			if u, err := f.s.AuthenticateAs(ctx, "alice", alicePW, f.alice.ID); err != nil || u.ID != f.alice.ID {
				t.Fatalf("right password = %v", err)
			}
			if u, _ := f.s.ByID(ctx, f.alice.ID); u.FailedLogins != 0 {
				t.Fatalf("FailedLogins = %d after success, want 0", u.FailedLogins)
			}
		})
	})
}

// TestParallelRightPasswordsNeverLock: many sign-ins with the right
// password at once (a user's tabs, a script) may be told to try again,
// but never lock the account, and a later sign-in succeeds; at most the
// threshold's worth of hashes run at a time either way.
func TestParallelRightPasswordsNeverLock(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g, user.WithLockout(user.Lockout{Threshold: 3, Base: time.Minute}))
		ctx := t.Context()
		const n = 32
		var wg sync.WaitGroup
		var ok, inFlight atomic.Int64
		for range n {
			wg.Go(func() {
				_, err := f.s.Authenticate(ctx, "alice", alicePW)
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, user.ErrInFlight):
					inFlight.Add(1)
				default:
					t.Errorf("Authenticate with the right password = %v", err)
				}
			})
		}
		wg.Wait()
		if ok.Load() == 0 {
			t.Fatalf("no sign-in succeeded (%d told to try again)", inFlight.Load())
		}
		u, err := f.s.ByID(ctx, f.alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Locked(f.clock.Now()) || u.Lockouts != 0 {
			t.Fatalf("locked by %d right passwords: lockouts=%d until=%v", n, u.Lockouts, u.LockedUntil)
		}
		if _, err := f.s.Authenticate(ctx, "alice", alicePW); err != nil {
			t.Fatalf("sign-in after the burst = %v", err)
		}
	})
}

// TestStaleReservationsLock: reservations whose requests never came back
// (every allowed attempt reserved, nobody confirming) are "in flight"
// only for a while; after that they lock like the failures they were
// reserved as, so dead requests cannot hold an account busy for ever,
// and the lock then expires as every lock does.
func TestStaleReservationsLock(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g, user.WithLockout(user.Lockout{Threshold: 3, Base: time.Minute}))
		ctx := t.Context()
		// Three requests reserved and died before confirming or refunding.
		if err := g.Table("users").Where("id = ?", f.alice.ID).
			Updates(map[string]any{"failed_logins": 3, "updated_at": f.clock.Now()}).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Authenticate(ctx, "alice", alicePW); !errors.Is(err, user.ErrInFlight) {
			t.Fatalf("with fresh reservations = %v, want ErrInFlight", err)
		}
		f.clock.Advance(2 * time.Minute)
		until := lockedUntil(t, func() error { _, err := f.s.Authenticate(ctx, "alice", alicePW); return err }())
		f.clock.Advance(until.Sub(f.clock.Now()) + time.Second)
		if _, err := f.s.Authenticate(ctx, "alice", alicePW); err != nil {
			t.Fatalf("after the lock expired = %v", err)
		}
	})
}
