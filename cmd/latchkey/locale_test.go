package main

import (
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/user/usertest"
)

// TestUserShowNamesTheLanguage: `user show` says which language mail
// sent without a request goes out in for the user.
func TestUserShowNamesTheLanguage(t *testing.T) {
	c := newCLI(t, dbtest.URL(t, dbtest.SQLite))
	c.must(alicePW+"\n", "user", "create", "--username", "alice", "--email", "alice@example.com", "--password-stdin")
	if out := c.must("", "user", "show", "alice"); !strings.Contains(out, "language:") || !strings.Contains(out, "not yet known") {
		t.Fatalf("a new user's language:\n%s", out)
	}
	g := dbtest.Open(t, c.dbURL, migrationSets()...)
	users := usertest.Store(g)
	u, err := users.ByLogin(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := users.RememberLocale(t.Context(), u.ID, u.Locale, "de"); err != nil {
		t.Fatal(err)
	}
	if out := c.must("", "user", "show", "alice"); !strings.Contains(out, "language:") || !strings.Contains(out, "  de\n") {
		t.Fatalf("the remembered language is not shown:\n%s", out)
	}
}
