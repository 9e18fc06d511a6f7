package schema_test

import (
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/schema"
	"github.com/latchkeyid/latchkey/provider/user/usertest"
)

// upTo is the provider's history up to and including id.
func upTo(t *testing.T, id string) db.Set {
	t.Helper()
	s := schema.Set()
	for i, m := range s.Migrations {
		if m.ID == id {
			s.Migrations = s.Migrations[:i+1]
			return s
		}
	}
	t.Fatalf("no migration %s", id)
	return s
}

// TestUserLocaleMigration: 0009 adds users.locale (empty for existing
// accounts) and users.signed_out_at, which starts from the password's
// change time so existing sign-ins keep exactly the cut-off they had; the
// store then reads and writes both.
func TestUserLocaleMigration(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		g := dbtest.Open(t, url, upTo(t, "0008_client_logo"))
		changed := time.Date(2026, 2, 1, 9, 30, 0, 123456000, time.UTC)
		if err := g.Exec(`INSERT INTO users (id, username, username_key, email, email_key, display_name, phone,
			disabled, admin, password_hash, password_changed_at, failed_logins, lockouts, bad_password_marks,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, '', '', ?, ?, '', ?, 0, 0, '', ?, ?)`,
			"OLDUSER", "old", "old", "old@example.com", "old@example.com", false, false, changed, changed, changed).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx, g, schema.Set()); err != nil {
			t.Fatal(err)
		}
		users := usertest.Store(g)
		u, err := users.ByID(ctx, "OLDUSER")
		if err != nil {
			t.Fatal(err)
		}
		if u.Locale != "" {
			t.Errorf("an existing account has locale %q, want none", u.Locale)
		}
		if u.SignedOutAt == nil || !u.SignInCutoff().Equal(changed) {
			t.Errorf("signed_out_at %v, want the password's change time %v", u.SignedOutAt, changed)
		}
		for _, tc := range []struct{ last, tag, want string }{
			{"", "de", "de"},
			{"de", "ja", "ja"},
			{"ja", "", "ja"}, // nothing chosen: nothing written
		} {
			if err := users.RememberLocale(ctx, u.ID, tc.last, tc.tag); err != nil {
				t.Fatal(err)
			}
			if got, _ := users.ByID(ctx, u.ID); got.Locale != tc.want {
				t.Errorf("after %q→%q the locale is %q, want %q", tc.last, tc.tag, got.Locale, tc.want)
			}
		}
		// A new account starts with the cut-off at its password.
		n := usertest.Create(t, users, "new", "correct horse battery staple")
		if n.SignedOutAt == nil || !n.SignInCutoff().Equal(n.PasswordChangedAt) {
			t.Errorf("new account: signed_out_at %v, password changed %v", n.SignedOutAt, n.PasswordChangedAt)
		}
	})
}
