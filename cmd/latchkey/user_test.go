package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/user"
)

const alicePW = "correct horse battery staple"

// TestUserCommands walks one user through every user command, on SQLite and
// MySQL, checking the database through the user store rather than only the
// command's own output.
func TestUserCommands(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		c := newCLI(t, url)
		steps := []cliStep{
			{"create", alicePW + "\n", []string{"user", "create", "--username", "alice", "--email", "Alice@Example.com",
				"--name", "Alice Liddell", "--group", "staff", "--password-stdin"}, 0, "created user alice", alicePW},
			{"create-duplicate-case-folded", alicePW + "\n", []string{"user", "create", "--username", "ALICE", "--email", "other@example.com",
				"--password-stdin"}, exitUsage, "already registered", alicePW},
			{"create-weak-password", "password1\n", []string{"user", "create", "--username", "bob", "--email", "bob@example.com",
				"--password-stdin"}, exitUsage, "password refused", "password1"},
			{"create-context-word-password", "alice-liddell\n", []string{"user", "create", "--username", "carol", "--email", "alice-liddell@example.com",
				"--password-stdin"}, exitUsage, "password refused", ""},
			{"create-empty-stdin", "", []string{"user", "create", "--username", "dave", "--email", "dave@example.com",
				"--password-stdin"}, exitUsage, "no password on stdin", ""},
			{"create-huge-stdin", strings.Repeat("x", 10000) + "\n", []string{"user", "create", "--username", "gina", "--email", "gina@example.com",
				"--password-stdin"}, exitUsage, "too long", ""},
			{"create-bad-email", alicePW + "\n", []string{"user", "create", "--username", "erin", "--email", "not-an-email",
				"--password-stdin"}, exitUsage, "erin", ""},
			{"import-bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy\n", []string{"user", "create", "--username", "frank",
				"--email", "frank@example.com", "--password-hash-stdin"}, 0, "created user frank", ""},
			{"list", "", []string{"user", "list"}, 0, "alice", ""},
			{"show-by-email-any-case", "", []string{"user", "show", "ALICE@example.COM"}, 0, "Alice Liddell", ""},
			{"show-unknown", "", []string{"user", "show", "nobody"}, exitFailed, `no user "nobody"`, ""},
			{"lock", "", []string{"user", "lock", "alice"}, 0, "locked alice", ""},
			{"show-locked", "", []string{"user", "show", "alice"}, 0, "locked until", ""},
			{"unlock", "", []string{"user", "unlock", "alice"}, 0, "unlocked alice", ""},
			{"groups-add-remove", "", []string{"user", "groups", "alice", "--add", "admins", "--add", "ops", "--remove", "staff"}, 0, "ops", "staff"},
			{"disable", "", []string{"user", "disable", "alice"}, 0, "disabled alice", ""},
			{"list-disabled", "", []string{"user", "list"}, 0, "disabled", ""},
			{"enable", "", []string{"user", "enable", "alice"}, 0, "enabled alice", ""},
			{"reset-password", "a brand new passphrase\n", []string{"user", "reset-password", "alice", "--password-stdin"}, 0, "password of alice changed", "a brand new passphrase"},
			{"audit-all", "", []string{"audit"}, 0, "admin.password.reset", ""},
			{"audit-user", "", []string{"audit", "--user", "frank"}, 0, "admin.user.create", "admin.user.lock"},
			{"audit-type", "", []string{"audit", "--type", "admin.user.lock", "--since", "1h"}, 0, "admin.user.lock", "admin.user.create"},
			{"audit-bad-limit", "", []string{"audit", "--limit", "0"}, exitUsage, "--limit", ""},
			{"delete", "", []string{"user", "delete", "frank"}, 0, "deleted frank", ""},
			{"show-deleted", "", []string{"user", "show", "frank"}, exitFailed, "no user", ""},
		}
		c.runSteps(steps)

		// The database agrees with what the commands said.
		g := dbtest.Open(t, url, migrationSets()...)
		users := user.NewStore(g, password.NewHasher(password.Params{Memory: 7168, Time: 5, Threads: 1}))
		ctx := t.Context()
		u, err := users.Authenticate(ctx, "alice", "a brand new passphrase")
		if err != nil {
			t.Fatalf("sign-in with the reset password: %v", err)
		}
		if u.Email != "Alice@Example.com" || u.DisplayName != "Alice Liddell" {
			t.Fatalf("stored user %+v", u)
		}
		if strings.Join(u.Groups, ",") != "admins,ops" {
			t.Fatalf("groups = %v, want admins, ops", u.Groups)
		}
		if _, err := users.Authenticate(ctx, "alice", alicePW); !errors.Is(err, user.ErrBadCredentials) {
			t.Fatalf("old password: err = %v, want ErrBadCredentials", err)
		}
		if _, err := users.ByLogin(ctx, "frank"); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("deleted user still found: %v", err)
		}
	})
}

func TestUserImportBcryptSignsIn(t *testing.T) {
	c := newCLI(t, dbtest.URL(t, dbtest.SQLite))
	// bcrypt of "password" at cost 10 (a well-known test vector).
	c.must("$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy\n",
		"user", "create", "--username", "imported", "--email", "imported@example.com", "--password-hash-stdin")
	g := dbtest.Open(t, c.dbURL, migrationSets()...)
	h := password.NewHasher(password.Params{Memory: 7168, Time: 5, Threads: 1})
	users := user.NewStore(g, h)
	u, err := users.ByLogin(t.Context(), "imported")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.PasswordHash, "$2a$") {
		t.Fatalf("hash not imported as given: %q", u.PasswordHash)
	}
	_ = db.SQLite
}
