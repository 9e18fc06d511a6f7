// Package usertest helps other packages' tests get a user store and users
// on a dbtest database without paying for production-strength hashing.
package usertest

import (
	"testing"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/user"
)

// FastParams are Argon2id parameters far too weak for production, so tests
// that create and sign in many users stay fast.
var FastParams = password.Params{Memory: 64, Time: 1, Threads: 1}

// Hasher returns a hasher with FastParams and a wait queue deep enough for
// the bursts these tests send (40 parallel sign-ins): on a loaded machine
// the production bound (8 waiters per core) would turn some into ErrBusy.
// The bound itself is tested in provider/password and provider.
func Hasher() *password.Hasher { return password.NewHasher(FastParams, password.WithQueue(1024)) }

// Store returns a user store on g (already migrated with provider/schema)
// using Hasher().
func Store(g *gorm.DB, opts ...user.Option) *user.Store {
	return user.NewStore(g, Hasher(), opts...)
}

// Create registers username with email username@example.com and the given
// password, failing the test on error.
func Create(t testing.TB, s *user.Store, username, pw string, groups ...string) *user.User {
	t.Helper()
	u, err := s.Create(t.Context(), user.NewUser{
		Username: username, Email: username + "@example.com", DisplayName: username,
		Password: pw, Groups: groups,
	})
	if err != nil {
		t.Fatalf("usertest: create %s: %v", username, err)
	}
	return u
}
