package user_test

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/user/usertest"
)

// Checklist 7: one normaliser, byte-exact keys, on SQLite and MySQL.
func TestLookupNormalization(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		tests := []struct {
			name, login string
			found       bool
		}{
			{"exact", "alice", true},
			{"upper", "ALICE", true},
			{"trailing-space", "alice ", true},
			{"fullwidth", "ａｌｉｃｅ", true},
			{"email", "alice@example.com", true},
			{"email-upper", "ALICE@EXAMPLE.COM", true},
			{"email-fullwidth-at", "alice＠example.com", true},
			{"accented", "alíce", false},
			{"dotless-i", "alıce", false},
			{"inner-space", "ali ce", false},
			{"prefix", "alic", false},
			{"empty", "", false},
			{"spaces-only", "   ", false},
			{"sql-wildcard", "al%", false},
			{"invalid-utf8", "alice\xff", false},
			{"huge", strings.Repeat("a", 100000), false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				u, err := f.s.ByLogin(ctx, tt.login)
				if tt.found {
					if err != nil || u.ID != f.alice.ID {
						t.Fatalf("ByLogin(%q) = %v, %v; want alice", tt.login, u, err)
					}
					if u.Username != "alice" || u.Email != "alice@example.com" {
						t.Fatalf("stored values changed: %q %q", u.Username, u.Email)
					}
					return
				}
				if !errors.Is(err, user.ErrNotFound) {
					t.Fatalf("ByLogin(%q) = %v, %v; want ErrNotFound", tt.login, u, err)
				}
			})
		}
		for _, dup := range []string{"ALICE", "alice ", "ａｌｉｃｅ", "Alice"} {
			t.Run("register-again-"+dup, func(t *testing.T) {
				_, err := f.s.Create(ctx, user.NewUser{Username: dup, Email: "other-" + strings.TrimSpace(strings.ToLower(dup)) + "@example.org"})
				if !errors.Is(err, user.ErrExists) {
					t.Fatalf("Create(%q) = %v, want ErrExists", dup, err)
				}
			})
		}
		t.Run("register-same-email-other-case", func(t *testing.T) {
			_, err := f.s.Create(ctx, user.NewUser{Username: "alice2", Email: "ALICE@example.com"})
			if !errors.Is(err, user.ErrExists) {
				t.Fatalf("Create = %v, want ErrExists", err)
			}
		})
		for _, other := range []string{"alíce", "alıce"} {
			t.Run("distinct-user-"+other, func(t *testing.T) {
				u, err := f.s.Create(ctx, user.NewUser{Username: other, Email: other + "@example.net"})
				if err != nil {
					t.Fatalf("Create(%q) = %v; it is a different name", other, err)
				}
				// (Upper-casing would not do: "alıce" upper-cases to plain "ALICE".)
				got, err := f.s.ByLogin(ctx, " "+other+" ")
				if err != nil || got.ID != u.ID {
					t.Fatalf("ByLogin(%q) = %v, %v", other, got, err)
				}
			})
		}
	})
}

// The database itself compares keys byte-exactly with no padding, so the
// unique index holds even for a writer that bypassed Normalize.
func TestKeyColumnsAreByteExact(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		insert := func(id, key string) error {
			return g.WithContext(t.Context()).Create(&user.User{ID: id, Username: key, UsernameKey: key, Email: id + "@x.example", EmailKey: id + "@x.example"}).Error
		}
		for i, key := range []string{"bob", "bob ", "Bob", "böb", "bob\u00a0"} {
			if err := insert(strings.Repeat("A", 25)+string(rune('A'+i)), key); err != nil {
				t.Fatalf("insert key %q: %v (collation is not byte-exact/no-pad)", key, err)
			}
		}
		err := insert(strings.Repeat("B", 26), "bob")
		if !errors.Is(err, gorm.ErrDuplicatedKey) {
			t.Fatalf("duplicate key insert = %v, want ErrDuplicatedKey", err)
		}
		var n int64
		g.Model(&user.User{}).Where("username_key = ?", "bob").Count(&n)
		if n != 1 {
			t.Fatalf("username_key = 'bob' matched %d rows, want exactly 1", n)
		}
		if g.Dialector.Name() == db.MySQL {
			var coll string
			g.Raw("SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'users' AND COLUMN_NAME = 'username_key'").Scan(&coll)
			if !strings.HasSuffix(coll, "_bin") {
				t.Fatalf("users.username_key collation = %q, want a binary one", coll)
			}
		}
	})
}

func TestCreateValidation(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		tests := []struct {
			name string
			in   user.NewUser
			want error
		}{
			{"no-username", user.NewUser{Email: "x@example.com"}, user.ErrInvalid},
			{"blank-username", user.NewUser{Username: "  ", Email: "x@example.com"}, user.ErrInvalid},
			{"control-char", user.NewUser{Username: "bo\nb", Email: "x@example.com"}, user.ErrInvalid},
			{"zero-width-space", user.NewUser{Username: "ali\u200bce", Email: "x@example.com"}, user.ErrInvalid},
			{"bidi-override", user.NewUser{Username: "\u202eecila", Email: "x@example.com"}, user.ErrInvalid},
			{"too-long-username", user.NewUser{Username: strings.Repeat("u", 191), Email: "x@example.com"}, user.ErrInvalid},
			{"no-email", user.NewUser{Username: "bob"}, user.ErrInvalid},
			{"bad-email", user.NewUser{Username: "bob", Email: "not an email"}, user.ErrInvalid},
			{"email-with-name", user.NewUser{Username: "bob", Email: "Bob <bob@example.com>"}, user.ErrInvalid},
			{"phone-not-e164", user.NewUser{Username: "bob", Email: "bob@example.com", Phone: "0155 555"}, user.ErrInvalid},
			{"bad-group", user.NewUser{Username: "bob", Email: "bob@example.com", Groups: []string{" "}}, user.ErrInvalid},
			{"bad-imported-hash", user.NewUser{Username: "bob", Email: "bob@example.com", PasswordHash: "md5:abc"}, user.ErrInvalid},
			{"username-is-someones-email", user.NewUser{Username: "ALICE@example.com", Email: "bob@example.com"}, user.ErrExists},
			{"email-is-someones-username", user.NewUser{Username: "bob", Email: "alice"}, user.ErrInvalid},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, err := f.s.Create(ctx, tt.in); !errors.Is(err, tt.want) {
					t.Fatalf("Create = %v, want %v", err, tt.want)
				}
			})
		}
		t.Run("username-equal-to-own-email", func(t *testing.T) {
			u, err := f.s.Create(ctx, user.NewUser{Username: "carol@example.com", Email: "Carol@example.com", Phone: "+14155550100"})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := f.s.ByLogin(ctx, "CAROL@example.com"); err != nil || got.ID != u.ID {
				t.Fatalf("ByLogin = %v, %v", got, err)
			}
		})
	})
}

func TestGroups(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		u, err := f.s.Create(ctx, user.NewUser{Username: "dave", Email: "dave@example.com", Groups: []string{"Help Desk", "help desk ", "ＨＥＬＰ ＤＥＳＫ", "Ops"}})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"help desk", "ops"}; strings.Join(u.Groups, ",") != strings.Join(want, ",") {
			t.Fatalf("groups = %q, want %q", u.Groups, want)
		}
		check := func(step string, want ...string) {
			t.Helper()
			got, err := f.s.ByID(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got.Groups, ",") != strings.Join(want, ",") {
				t.Fatalf("%s: groups = %q, want %q", step, got.Groups, want)
			}
		}
		check("created", "help desk", "ops")
		for _, q := range []string{"HELP DESK", "help desk", "Ops "} {
			if ok, err := f.s.InGroup(ctx, u.ID, q); err != nil || !ok {
				t.Fatalf("InGroup(%q) = %v, %v", q, ok, err)
			}
		}
		if ok, _ := f.s.InGroup(ctx, u.ID, "staff"); ok {
			t.Fatal("dave is not in staff")
		}
		if err := f.s.AddGroups(ctx, u.ID, "Staff", "ops"); err != nil {
			t.Fatal(err)
		}
		check("added", "help desk", "ops", "staff")
		if err := f.s.RemoveGroups(ctx, u.ID, "OPS", "never-there"); err != nil {
			t.Fatal(err)
		}
		check("removed", "help desk", "staff")
		if err := f.s.SetGroups(ctx, u.ID, "Admins"); err != nil {
			t.Fatal(err)
		}
		check("set", "admins")
		if err := f.s.SetGroups(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		check("cleared")
		for name, err := range map[string]error{
			"add":    f.s.AddGroups(ctx, "nope", "x"),
			"remove": f.s.RemoveGroups(ctx, "nope", "x"),
			"set":    f.s.SetGroups(ctx, "nope", "x"),
		} {
			if !errors.Is(err, user.ErrNotFound) {
				t.Fatalf("%s on unknown user = %v, want ErrNotFound", name, err)
			}
		}
		if err := f.s.AddGroups(ctx, u.ID, ""); !errors.Is(err, user.ErrInvalid) {
			t.Fatalf("empty group = %v, want ErrInvalid", err)
		}
	})
}

func TestListAdminsDisableDelete(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		root, err := f.s.Create(ctx, user.NewUser{Username: "root", Email: "root@example.com", Admin: true, Groups: []string{"ops"}})
		if err != nil {
			t.Fatal(err)
		}
		old, err := f.s.Create(ctx, user.NewUser{Username: "old-admin", Email: "old@example.com", Admin: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.s.SetDisabled(ctx, old.ID, true); err != nil {
			t.Fatal(err)
		}
		admins, err := f.s.Admins(ctx)
		if err != nil || len(admins) != 1 || admins[0].ID != root.ID || admins[0].Groups[0] != "ops" {
			t.Fatalf("Admins = %+v, %v; want only root (disabled admins are left out)", admins, err)
		}
		all, err := f.s.List(ctx)
		if err != nil || len(all) != 3 || all[0].Username != "alice" || all[0].Groups[0] != "staff" {
			t.Fatalf("List = %+v, %v", all, err)
		}
		if err := f.s.SetAdmin(ctx, f.alice.ID, true); err != nil {
			t.Fatal(err)
		}
		if admins, _ := f.s.Admins(ctx); len(admins) != 2 {
			t.Fatalf("after SetAdmin: %d admins, want 2", len(admins))
		}
		// Setting the same value twice is not "not found" (MySQL reports 0 changed rows).
		if err := f.s.SetDisabled(ctx, old.ID, true); err != nil {
			t.Fatalf("disable twice: %v", err)
		}
		if err := f.s.Delete(ctx, root.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.ByID(ctx, root.ID); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("ByID after delete = %v", err)
		}
		var n int64
		g.Table("user_groups").Where("user_id = ?", root.ID).Count(&n)
		if n != 0 {
			t.Fatalf("%d group rows left after delete", n)
		}
		for name, err := range map[string]error{
			"delete":  f.s.Delete(ctx, root.ID),
			"disable": f.s.SetDisabled(ctx, "nope", true),
			"admin":   f.s.SetAdmin(ctx, "nope", true),
			"lock":    f.s.Lock(ctx, "nope", f.clock.Now()),
			"unlock":  f.s.Unlock(ctx, "nope"),
			"set-pw":  f.s.SetPassword(ctx, "nope", "whatever words"),
		} {
			if !errors.Is(err, user.ErrNotFound) {
				t.Fatalf("%s on unknown user = %v, want ErrNotFound", name, err)
			}
		}
		if _, err := f.s.CheckPassword(ctx, "nope", "x"); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("CheckPassword unknown = %v", err)
		}
	})
}

// Imported bcrypt users sign in and are upgraded to Argon2id.
func TestImportedBcryptUpgraded(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		raw, err := bcrypt.GenerateFromPassword([]byte("legacy pass phrase"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		u, err := f.s.Create(ctx, user.NewUser{Username: "legacy", Email: "legacy@example.com", PasswordHash: "$2y$" + string(raw)[4:]})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.Authenticate(ctx, "legacy", "legacy pass phrase"); err != nil {
			t.Fatalf("bcrypt sign-in: %v", err)
		}
		got, _ := f.s.ByID(ctx, u.ID)
		if !strings.HasPrefix(got.PasswordHash, "$argon2id$") {
			t.Fatalf("hash after sign-in = %.10s..., want argon2id", got.PasswordHash)
		}
		if _, err := f.s.Authenticate(ctx, "legacy", "legacy pass phrase"); err != nil {
			t.Fatalf("sign-in after upgrade: %v", err)
		}
	})
}

// Changing the Argon2id parameters upgrades stored hashes at the next sign-in.
func TestParamsUpgradedOnSignIn(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		stronger := password.Params{Memory: 128, Time: 2, Threads: 1}
		s2 := user.NewStore(g, password.NewHasher(stronger))
		if _, err := s2.Authenticate(ctx, "alice", alicePW); err != nil {
			t.Fatal(err)
		}
		got, _ := s2.ByID(ctx, f.alice.ID)
		if !strings.Contains(got.PasswordHash, "$m=128,t=2,p=1$") {
			t.Fatalf("hash not upgraded: %.40s", got.PasswordHash)
		}
		if !got.PasswordChangedAt.Equal(f.alice.PasswordChangedAt) {
			t.Fatal("an upgrade is not a password change")
		}
		_ = usertest.FastParams
	})
}

// Checklist 32 and 33: equal passwords hash differently; the account has
// no hint, expiry or history field to fill.
func TestPasswordStorageShape(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		twin := usertest.Create(t, f.s, "twin", alicePW)
		if twin.PasswordHash == f.alice.PasswordHash || !strings.HasPrefix(twin.PasswordHash, "$argon2id$v=19$") {
			t.Fatalf("same password, hashes %q and %q", twin.PasswordHash, f.alice.PasswordHash)
		}
		if err := f.s.Lock(t.Context(), twin.ID, time.Time{}); !errors.Is(err, user.ErrInvalid) {
			t.Fatalf("Lock(zero time) = %v, want ErrInvalid", err)
		}
	})
	forbidden := regexp.MustCompile(`(?i)hint|expir|history|previous`)
	for f := range reflect.TypeFor[user.User]().Fields() {
		if forbidden.MatchString(f.Name) {
			t.Errorf("user.User has field %s: no hints, expiry or password history (NIST 800-63B)", f.Name)
		}
	}
}
