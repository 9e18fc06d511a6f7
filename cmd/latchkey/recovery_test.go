package main

import (
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/user"
)

// TestUserUnlockEndsRecoveryBlock: the recovery block is decided from the
// failure records alone, so `latchkey user unlock` clears them.
func TestUserUnlockEndsRecoveryBlock(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		c := newCLI(t, url)
		c.must(alicePW+"\n", "user", "create", "--username", "alice", "--email", "alice@example.com", "--password-stdin")
		g := dbtest.Open(t, url, migrationSets()...)
		u, err := user.NewStore(g, password.NewHasher(password.Params{Memory: 7168, Time: 5, Threads: 1})).ByLogin(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		failures := flow.NewFailures(g, nil)
		for range flow.MaxFailures {
			if err := failures.Add(t.Context(), u.ID); err != nil {
				t.Fatal(err)
			}
		}
		if b, err := failures.Blocked(t.Context(), u.ID, time.Time{}); err != nil || !b {
			t.Fatalf("blocked = %v, %v before the unlock", b, err)
		}
		c.must("", "user", "unlock", "alice")
		if b, err := failures.Blocked(t.Context(), u.ID, time.Time{}); err != nil || b {
			t.Fatalf("blocked = %v, %v after the unlock", b, err)
		}
	})
}
