package user_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/user/usertest"
)

func lockedUntil(t *testing.T, err error) time.Time {
	t.Helper()
	var le *user.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want *LockedError", err)
	}
	return le.Until
}

func TestAuthenticate(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		tests := []struct {
			name, login, pw string
			want            error
		}{
			{"right", "alice", alicePW, nil},
			{"right-by-email-any-case", "Alice@Example.com", alicePW, nil},
			{"wrong", "alice", "violet kettle orbiT", user.ErrBadCredentials},
			{"unknown-user", "mallory", alicePW, user.ErrBadCredentials},
			{"empty", "", "", user.ErrBadCredentials},
			{"password-nfkc", "ａｌｉｃｅ", "ｖｉｏｌｅｔ ｋｅｔｔｌｅ ｏｒｂｉｔ", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				u, err := f.s.Authenticate(ctx, tt.login, tt.pw)
				if !errors.Is(err, tt.want) {
					t.Fatalf("Authenticate = %v, want %v", err, tt.want)
				}
				if err == nil && (u.ID != f.alice.ID || len(u.Groups) != 1) {
					t.Fatalf("signed in as %+v", u)
				}
			})
		}
	})
}

// A disabled account says so only after the right password, so a guesser
// cannot tell disabled accounts apart.
func TestAuthenticateDisabled(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		if err := f.s.SetDisabled(ctx, f.alice.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Authenticate(ctx, "alice", "not it at all"); !errors.Is(err, user.ErrBadCredentials) {
			t.Fatalf("wrong password on disabled = %v, want ErrBadCredentials", err)
		}
		if _, err := f.s.Authenticate(ctx, "alice", alicePW); !errors.Is(err, user.ErrDisabled) {
			t.Fatalf("right password on disabled = %v, want ErrDisabled", err)
		}
		// Unlock never re-enables.
		if err := f.s.Unlock(ctx, f.alice.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Authenticate(ctx, "alice", alicePW); !errors.Is(err, user.ErrDisabled) {
			t.Fatalf("after unlock = %v, want ErrDisabled", err)
		}
		if err := f.s.SetDisabled(ctx, f.alice.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Authenticate(ctx, "alice", alicePW); err != nil {
			t.Fatalf("re-enabled: %v", err)
		}
	})
}

// Lockout after Threshold distinct wrong passwords, for Base, doubling up
// to Max; during a lockout even the right password is refused; it ends by
// itself, and counters reset on success.
func TestLockoutDoubling(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g) // default lockout: 10, 1 min, cap 1 h
		ctx := t.Context()
		n := 0
		wrong := func() error {
			n++
			_, err := f.s.Authenticate(ctx, "alice", fmt.Sprintf("wrong guess %d", n))
			return err
		}
		want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute,
			16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour}
		for round, d := range want {
			for i := range 9 {
				if err := wrong(); !errors.Is(err, user.ErrBadCredentials) {
					t.Fatalf("round %d, wrong #%d = %v, want ErrBadCredentials", round, i+1, err)
				}
			}
			err := wrong()
			until := lockedUntil(t, err)
			if got := until.Sub(f.clock.Now()); got != d {
				t.Fatalf("lockout %d lasts %v, want %v", round+1, got, d)
			}
			if le := (*user.LockedError)(nil); !errors.As(err, &le) || !le.Triggered {
				t.Fatal("the attempt that starts a lockout must say so (Triggered)")
			}
			// Locked: the right password does not help, and nothing is counted.
			_, err = f.s.Authenticate(ctx, "alice", alicePW)
			if le := (*user.LockedError)(nil); !errors.As(err, &le) || le.Triggered {
				t.Fatalf("during lockout = %v, want *LockedError not Triggered", err)
			}
			f.clock.Advance(d - time.Second)
			lockedUntil(t, wrong())
			f.clock.Advance(time.Second) // the lockout has ended
		}
		if _, err := f.s.Authenticate(ctx, "alice", alicePW); err != nil {
			t.Fatalf("after the last lockout: %v", err)
		}
		u, _ := f.s.ByID(ctx, f.alice.ID)
		if u.FailedLogins != 0 || u.Lockouts != 0 || u.LockedUntil != nil || u.BadPasswordMarks != "" {
			t.Fatalf("success did not reset: %+v", u)
		}
		// After a success the next lockout is back to Base.
		for range 9 {
			_ = wrong()
		}
		if got := lockedUntil(t, wrong()).Sub(f.clock.Now()); got != time.Minute {
			t.Fatalf("first lockout after a success lasts %v, want 1m", got)
		}
	})
}

func TestLockoutOptions(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g, user.WithLockout(user.Lockout{Threshold: 3, Base: 10 * time.Second, Max: 25 * time.Second}))
		ctx := t.Context()
		for round, d := range []time.Duration{10 * time.Second, 20 * time.Second, 25 * time.Second} {
			var err error
			for i := range 3 {
				_, err = f.s.Authenticate(ctx, "alice", fmt.Sprintf("bad %d %d", round, i))
			}
			if got := lockedUntil(t, err).Sub(f.clock.Now()); got != d {
				t.Fatalf("lockout %d = %v, want %v", round+1, got, d)
			}
			f.clock.Advance(d)
		}
	})
}

// A repeat of one of the last three wrong passwords is not counted again
// (Entra smart lockout); a fourth older one is.
func TestRepeatedWrongPasswordCountsOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		failed := func() int {
			u, err := f.s.ByID(ctx, f.alice.ID)
			if err != nil {
				t.Fatal(err)
			}
			return u.FailedLogins
		}
		for range 25 {
			if _, err := f.s.Authenticate(ctx, "alice", "my old password"); !errors.Is(err, user.ErrBadCredentials) {
				t.Fatalf("repeat = %v, want ErrBadCredentials (never locked)", err)
			}
		}
		if n := failed(); n != 1 {
			t.Fatalf("25 repeats counted %d times, want 1", n)
		}
		// NFKC-equal forms are the same password.
		_, _ = f.s.Authenticate(ctx, "alice", "ｍｙ ｏｌｄ ｐａｓｓｗｏｒｄ")
		if n := failed(); n != 1 {
			t.Fatalf("fullwidth repeat counted: %d", n)
		}
		for _, pw := range []string{"b-wrong", "c-wrong", "d-wrong", "my old password"} {
			_, _ = f.s.Authenticate(ctx, "alice", pw)
		}
		if n := failed(); n != 5 {
			t.Fatalf("failed = %d, want 5: a wrong password older than the last three counts again", n)
		}
		u, _ := f.s.ByID(ctx, f.alice.ID)
		if len(u.BadPasswordMarks) != 3*8+2 {
			t.Fatalf("marks %q: want three 8-hex-digit marks", u.BadPasswordMarks)
		}
		// Marks are keyed per user: bob's repeat of the same text counts for bob.
		bob := usertest.Create(t, f.s, "bob", "another fine phrase")
		_, _ = f.s.Authenticate(ctx, "bob", "my old password")
		if got, _ := f.s.ByID(ctx, bob.ID); got.FailedLogins != 1 {
			t.Fatalf("bob failed = %d, want 1", got.FailedLogins)
		}
	})
}

// Without a keyring nothing about wrong passwords is stored and every one counts.
func TestWithoutKeyringEveryWrongPasswordCounts(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		s := usertest.Store(g)
		usertest.Create(t, s, "erin", "pale moon river")
		var err error
		for range 10 {
			_, err = s.Authenticate(t.Context(), "erin", "same wrong one")
		}
		lockedUntil(t, err)
	})
}

// Concurrent wrong passwords are all counted (atomic increment) and only
// one of them starts the lockout.
func TestConcurrentFailuresNotUndercounted(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g, user.WithLockout(user.Lockout{Threshold: 1000}))
		ctx := t.Context()
		const n = 40
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if _, err := f.s.Authenticate(ctx, "alice", fmt.Sprintf("parallel %d", i)); !errors.Is(err, user.ErrBadCredentials) {
					t.Errorf("parallel wrong = %v", err)
				}
			})
		}
		wg.Wait()
		u, _ := f.s.ByID(ctx, f.alice.ID)
		if u.FailedLogins != n {
			t.Fatalf("FailedLogins = %d after %d concurrent failures", u.FailedLogins, n)
		}
	})
}

func TestConcurrentFailuresLockOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		var wg sync.WaitGroup
		var mu sync.Mutex
		locked, triggered := 0, 0
		for i := range 10 {
			wg.Go(func() {
				_, err := f.s.Authenticate(ctx, "alice", fmt.Sprintf("parallel %d", i))
				var le *user.LockedError
				if errors.As(err, &le) {
					mu.Lock()
					locked++
					if le.Triggered {
						triggered++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		u, _ := f.s.ByID(ctx, f.alice.ID)
		if u.Lockouts != 1 || !u.Locked(f.clock.Now()) || locked < 1 || triggered != 1 {
			t.Fatalf("after 10 concurrent failures: lockouts=%d locked=%v (%d saw it, %d triggered it)", u.Lockouts, u.Locked(f.clock.Now()), locked, triggered)
		}
	})
}

func TestLockUnlock(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		for range 10 {
			_, _ = f.s.Authenticate(ctx, "alice", "nope nope nope")
			_, _ = f.s.Authenticate(ctx, "alice", fmt.Sprint(f.clock.Now().UnixNano()))
			f.clock.Advance(time.Millisecond)
		}
		if err := f.s.Unlock(ctx, f.alice.ID); err != nil {
			t.Fatal(err)
		}
		u, _ := f.s.ByID(ctx, f.alice.ID)
		if u.Locked(f.clock.Now()) || u.FailedLogins != 0 || u.Lockouts != 0 {
			t.Fatalf("after Unlock: %+v", u)
		}
		if _, err := f.s.Authenticate(ctx, "alice", alicePW); err != nil {
			t.Fatalf("after Unlock: %v", err)
		}
		until := f.clock.Now().Add(time.Hour)
		if err := f.s.Lock(ctx, f.alice.ID, until); err != nil {
			t.Fatal(err)
		}
		_, err := f.s.Authenticate(ctx, "alice", alicePW)
		if got := lockedUntil(t, err); !got.Equal(until) {
			t.Fatalf("locked until %v, want %v", got, until)
		}
		if (&user.LockedError{Until: until}).Error() == "" {
			t.Fatal("empty message")
		}
		f.clock.Advance(time.Hour)
		if _, err := f.s.Authenticate(ctx, "alice", alicePW); err != nil {
			t.Fatalf("after the lock expired: %v", err)
		}
	})
}

// CheckPassword has no lockout side effects.
func TestCheckPassword(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		for i := range 20 {
			if ok, err := f.s.CheckPassword(ctx, f.alice.ID, fmt.Sprint("wrong ", i)); ok || err != nil {
				t.Fatalf("CheckPassword(wrong) = %v, %v", ok, err)
			}
		}
		if ok, err := f.s.CheckPassword(ctx, f.alice.ID, alicePW); !ok || err != nil {
			t.Fatalf("CheckPassword(right) = %v, %v", ok, err)
		}
		u, _ := f.s.ByID(ctx, f.alice.ID)
		if u.FailedLogins != 0 {
			t.Fatalf("CheckPassword counted failures: %d", u.FailedLogins)
		}
	})
}

func TestSetPassword(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		f.clock.Advance(time.Hour)
		if err := f.s.SetPassword(ctx, f.alice.ID, "brand new phrase"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Authenticate(ctx, "alice", alicePW); !errors.Is(err, user.ErrBadCredentials) {
			t.Fatalf("old password = %v", err)
		}
		u, err := f.s.Authenticate(ctx, "alice", "brand new phrase")
		if err != nil {
			t.Fatal(err)
		}
		if !u.PasswordChangedAt.Equal(f.clock.Now()) {
			t.Fatalf("PasswordChangedAt = %v, want %v", u.PasswordChangedAt, f.clock.Now())
		}
		if err := f.s.SetPasswordHash(ctx, f.alice.ID, "plaintext"); !errors.Is(err, password.ErrUnknownHash) {
			t.Fatalf("SetPasswordHash(garbage) = %v", err)
		}
	})
}

// WithTx: a password reset that fails later in its transaction leaves the
// old password valid and the lockout in place (checklist 35).
func TestWithTxRollsBack(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		until := f.clock.Now().Add(time.Hour)
		if err := f.s.Lock(ctx, f.alice.ID, until); err != nil {
			t.Fatal(err)
		}
		hash, err := f.s.Hasher().Hash(ctx, "reset phrase here")
		if err != nil {
			t.Fatal(err)
		}
		boom := errors.New("injected failure")
		err = g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			ts := f.s.WithTx(tx)
			if err := ts.SetPasswordHash(ctx, f.alice.ID, hash); err != nil {
				return err
			}
			if err := ts.Unlock(ctx, f.alice.ID); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("transaction = %v", err)
		}
		u, _ := f.s.ByID(ctx, f.alice.ID)
		if !u.Locked(f.clock.Now()) {
			t.Fatal("rolled-back unlock took effect")
		}
		if ok, _ := f.s.CheckPassword(ctx, f.alice.ID, alicePW); !ok {
			t.Fatal("rolled-back password change took effect")
		}
		// And committed, both apply.
		err = g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			ts := f.s.WithTx(tx)
			if err := ts.SetPasswordHash(ctx, f.alice.ID, hash); err != nil {
				return err
			}
			return ts.Unlock(ctx, f.alice.ID)
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Authenticate(ctx, "alice", "reset phrase here"); err != nil {
			t.Fatalf("after committed reset: %v", err)
		}
	})
}

// Checklist 34: an unknown username costs what a known one does, proved
// structurally: for every outcome (wrong password, repeated wrong password,
// locked) both run the same sequence of reads and writes, evaluate the
// same number of hashes and return the same error. Wall-clock time is only
// printed, from many interleaved samples: under load a ratio of medians
// says nothing.
func TestUnknownUserDoesEqualWork(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		kr, err := secret.Parse(secret.Generate())
		if err != nil {
			t.Fatal(err)
		}
		h := password.NewHasher(password.Params{Memory: 4096, Time: 2, Threads: 1})
		s := user.NewStore(g, h, user.WithKeyring(kr), user.WithLockout(user.Lockout{Threshold: 3}))
		usertest.Create(t, s, "known", "known user phrase")
		stmts := dbtest.CountStatements(t, g)
		ctx := t.Context()
		type work struct {
			statements []string
			hashes     uint64
			err        string
		}
		attempt := func(login, pw string) work {
			var err error
			before := h.Evaluations()
			st := stmts.Record(func() { _, err = s.Authenticate(ctx, login, pw) })
			kind := fmt.Sprint(err)
			var locked *user.LockedError
			if errors.As(err, &locked) {
				kind = "locked"
			}
			return work{st, h.Evaluations() - before, kind}
		}
		for _, tt := range []struct{ name, pw string }{
			{"wrong-password", "first wrong guess"},
			{"repeated-wrong-password", "first wrong guess"},
			{"second-wrong-password", "second wrong guess"},
			{"third-wrong-password-locks", "third wrong guess"},
			{"locked", "fourth wrong guess"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				k, u := attempt("known", tt.pw), attempt("unknown", tt.pw)
				if !slices.Equal(k.statements, u.statements) || k.hashes != u.hashes || k.err != u.err {
					t.Fatalf("known %+v, unknown %+v", k, u)
				}
				t.Logf("both: %v, %d hash(es), %s", k.statements, k.hashes, k.err)
			})
		}
		// Measured, never asserted: many interleaved samples.
		s2 := user.NewStore(g, h, user.WithKeyring(kr), user.WithLockout(user.Lockout{Threshold: 1 << 20}))
		usertest.Create(t, s2, "timed", "timed user phrase")
		const runs = 40
		var known, unknown []time.Duration
		for i := range runs {
			pw := fmt.Sprintf("guess %d", i)
			start := time.Now()
			_, _ = s2.Authenticate(ctx, "timed", pw)
			known = append(known, time.Since(start))
			start = time.Now()
			_, _ = s2.Authenticate(ctx, "timed-unknown", pw)
			unknown = append(unknown, time.Since(start))
		}
		t.Logf("median of %d interleaved: known %v, unknown %v", runs, median(known), median(unknown))
	})
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

// Accounts without a usable password (none set, or an unreadable imported
// hash) refuse every password with the ordinary answer, never an error.
func TestUnusablePassword(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		nopw, err := f.s.Create(ctx, user.NewUser{Username: "invited", Email: "invited@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if nopw.PasswordHash != "" || !nopw.PasswordChangedAt.IsZero() {
			t.Fatalf("user without password: %+v", nopw)
		}
		for _, pw := range []string{"", "anything at all"} {
			if _, err := f.s.Authenticate(ctx, "invited", pw); !errors.Is(err, user.ErrBadCredentials) {
				t.Fatalf("no password set, Authenticate(%q) = %v", pw, err)
			}
		}
		if ok, err := f.s.CheckPassword(ctx, nopw.ID, ""); ok || err != nil {
			t.Fatalf("CheckPassword(empty) on no password = %v, %v", ok, err)
		}
		if err := g.Model(&user.User{}).Where("id = ?", f.alice.ID).Update("password_hash", "$argon2id$garbage").Error; err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Authenticate(ctx, "alice", alicePW); !errors.Is(err, user.ErrBadCredentials) {
			t.Fatalf("unreadable hash: Authenticate = %v, want ErrBadCredentials", err)
		}
	})
}
