package user_test

import (
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/clocktest"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/schema"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/user/usertest"
)

// userSets is the provider's migration history up to this package's
// tables, so these tests do not depend on later steps.
func userSets() []db.Set {
	s := schema.Set()
	var ms []*db.Migration
	for _, m := range s.Migrations {
		if strings.HasPrefix(m.ID, "0001_") || strings.HasPrefix(m.ID, "0002_") || strings.HasPrefix(m.ID, "0006_login_lockouts") ||
			strings.HasPrefix(m.ID, "0009_user_locale") || strings.HasPrefix(m.ID, "0011_") || strings.HasPrefix(m.ID, "0013_") {
			ms = append(ms, m)
		}
	}
	s.Migrations = ms
	return []db.Set{s}
}

// eachDB runs fn on a fresh migrated SQLite and MySQL database.
func eachDB(t *testing.T, fn func(t *testing.T, g *gorm.DB)) {
	dbtest.EachDB(t, userSets(), fn)
}

func newClock() *clocktest.Clock { return clocktest.At(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

func testKeyring(t testing.TB) *secret.Keyring {
	k, err := secret.Parse(secret.Generate())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fixture is a store with a fake clock, a keyring and one user "alice".
type fixture struct {
	g     *gorm.DB
	s     *user.Store
	clock *clocktest.Clock
	alice *user.User
}

const alicePW = "violet kettle orbit"

func newFixture(t *testing.T, g *gorm.DB, opts ...user.Option) *fixture {
	c := newClock()
	opts = append([]user.Option{user.WithClock(c.Now), user.WithKeyring(testKeyring(t))}, opts...)
	s := usertest.Store(g, opts...)
	return &fixture{g: g, s: s, clock: c, alice: usertest.Create(t, s, "alice", alicePW, "staff")}
}
