package user_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/schema"
	"github.com/latchkeyid/latchkey/provider/user"
)

// insertUsers writes users straight into the table in batches (no
// password hashing: these tests are about finding rows, and 10,000
// Creates would be most of the run).
func insertUsers(t *testing.T, g *gorm.DB, us []user.User) {
	t.Helper()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range us {
		u := &us[i]
		u.ID = fmt.Sprintf("U%025d", i)
		u.UsernameKey, u.EmailKey, u.NameKey = user.Normalize(u.Username), user.Normalize(u.Email), user.NameKey(u.DisplayName)
		u.CreatedAt, u.UpdatedAt = now, now
	}
	if err := g.CreateInBatches(us, 500).Error; err != nil {
		t.Fatal(err)
	}
}

// walk pages through a search and returns every username seen, in order.
func walk(t *testing.T, s *user.Store, q string, limit int) []string {
	t.Helper()
	var seen []string
	cur := ""
	for pages := 0; ; pages++ {
		if pages > 100000 {
			t.Fatal("search never ends")
		}
		p, err := s.Search(t.Context(), q, limit, cur)
		if err != nil {
			t.Fatalf("search %q after %q: %v", q, cur, err)
		}
		if len(p.Users) > limit {
			t.Fatalf("page of %d users, limit %d", len(p.Users), limit)
		}
		for _, u := range p.Users {
			seen = append(seen, u.Username)
		}
		if p.Next == "" {
			return seen
		}
		if len(p.Users) == 0 {
			t.Fatal("empty page with a next cursor")
		}
		cur = p.Next
	}
}

func TestSearchPrefix(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		insertUsers(t, g, []user.User{
			{Username: "Bob", Email: "robert@example.org", DisplayName: "Robert Brown"},
			{Username: "carol", Email: "bobcat@example.org", DisplayName: "Carol Chen"},
			{Username: "dave", Email: "dave@example.org", DisplayName: "Bobby Tables"},
			{Username: "ｅｖｅ", Email: "EVE@Example.org", DisplayName: "Ève Durand"},
			{Username: "frank", Email: "frank@example.org", DisplayName: "Frank"},
			{Username: "grace%", Email: "grace@example.org", DisplayName: "Grace_Hopper"},
		})
		tests := []struct {
			name, q string
			want    []string
		}{
			// Username matches first, then email-only, then name-only.
			{"username-email-name", "bob", []string{"Bob", "carol", "dave"}},
			{"upper-case", "BOB", []string{"Bob", "carol", "dave"}},
			{"fullwidth-username", "ｅｖ", []string{"ｅｖｅ"}},
			{"email-case-folded", "eve@EXAMPLE", []string{"ｅｖｅ"}},
			{"name-accent-kept", "ève", []string{"ｅｖｅ"}},
			{"name-accent-differs", "eve d", nil},
			{"prefix-only", "obert", nil},
			{"name-with-space", "robert b", []string{"Bob"}},
			{"whole-email", "frank@example.org", []string{"frank"}},
			{"like-wildcard-is-literal", "grace%", []string{"grace%"}},
			{"percent-matches-nothing-else", "%", nil},
			{"underscore-literal", "grace_", []string{"grace%"}},
			{"no-match", "zz", nil},
			{"empty-lists-all", "", []string{"alice", "Bob", "carol", "dave", "ｅｖｅ", "frank", "grace%"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, limit := range []int{1, 2, 50} {
					got := walk(t, f.s, tt.q, limit)
					if !slices.Equal(got, tt.want) {
						t.Fatalf("limit %d: Search(%q) = %q, want %q", limit, tt.q, got, tt.want)
					}
				}
			})
		}
		t.Run("groups-loaded", func(t *testing.T) {
			p, err := f.s.Search(ctx, "alice", 10, "")
			if err != nil || len(p.Users) != 1 || !slices.Equal(p.Users[0].Groups, []string{"staff"}) {
				t.Fatalf("Search(alice) = %+v, %v", p, err)
			}
		})
		for _, tt := range []struct{ name, q, cursor string }{
			{"garbage", "bob", "not a cursor!"},
			{"other-query", "bob", mustNext(t, f.s, "a")},
			{"part-out-of-range", "", base64.RawURLEncoding.EncodeToString([]byte(`{"q":"","p":2}`))},
		} {
			t.Run("bad-cursor-"+tt.name, func(t *testing.T) {
				if _, err := f.s.Search(ctx, tt.q, 1, tt.cursor); !errors.Is(err, user.ErrBadCursor) {
					t.Fatalf("Search with cursor %q = %v, want ErrBadCursor", tt.cursor, err)
				}
			})
		}
		t.Run("invalid-query", func(t *testing.T) {
			for _, q := range []string{"bob\xff", strings.Repeat("b", 5000)} {
				if _, err := f.s.Search(ctx, q, 1, ""); !errors.Is(err, user.ErrInvalid) {
					t.Fatalf("Search(%.10q) = %v, want ErrInvalid", q, err)
				}
			}
		})
	})
}

// mustNext is the cursor after the first result of q (limit 1).
func mustNext(t *testing.T, s *user.Store, q string) string {
	t.Helper()
	p, err := s.Search(t.Context(), q, 1, "")
	if err != nil || p.Next == "" {
		t.Fatalf("Search(%q) = %+v, %v; want a next page", q, p, err)
	}
	return p.Next
}

// Over 10,000 users, paging with a small limit sees every match exactly
// once, across the username, email and name parts, for a prefix query and
// for the whole list.
func TestSearchPagesSeeEachUserOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		s := newFixture(t, g).s
		const n = 10000
		us := make([]user.User, 0, n)
		want := map[string]bool{}
		for i := range n {
			u := user.User{Username: fmt.Sprintf("user%05d", i), Email: fmt.Sprintf("user%05d@example.org", i),
				DisplayName: fmt.Sprintf("Person %d", i)}
			switch i % 5 {
			case 0: // username matches
				u.Username = fmt.Sprintf("Pat%05d", i)
			case 1: // email only
				u.Email = fmt.Sprintf("pat.%05d@example.org", i)
			case 2: // name only; names repeat, so (name, id) orders them
				u.DisplayName = fmt.Sprintf("Patricia %d", i%7)
			case 3: // all three: still once
				u.Username, u.Email, u.DisplayName = fmt.Sprintf("pat-%05d", i), fmt.Sprintf("pat-%05d@example.org", i), "Pat"
			}
			if i%5 != 4 {
				want[u.Username] = true
			}
			us = append(us, u)
		}
		insertUsers(t, g, us)
		for _, tt := range []struct {
			name, q string
			limit   int
			want    int
		}{
			{"prefix", "PAT", 97, len(want)},
			{"prefix-page-of-one-part", "pat", 2000, len(want)},
			{"all", "", 500, n + 1},
		} {
			t.Run(tt.name, func(t *testing.T) {
				seen := map[string]int{}
				for _, name := range walk(t, s, tt.q, tt.limit) {
					seen[name]++
				}
				if len(seen) != tt.want {
					t.Fatalf("saw %d distinct users, want %d", len(seen), tt.want)
				}
				for name, k := range seen {
					if k != 1 {
						t.Fatalf("%s seen %d times", name, k)
					}
					if tt.q != "" && !want[name] {
						t.Fatalf("%s does not match %q", name, tt.q)
					}
				}
			})
		}
	})
}

// Users created before migration 0011 get their name key filled by it, so
// a search by name finds them too.
func TestMigrationFillsNameKeys(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		before := schema.Set()
		var ms []*db.Migration
		for _, m := range before.Migrations {
			if m.ID < "0011" {
				ms = append(ms, m)
			}
		}
		before.Migrations = ms
		g := dbtest.Open(t, url, before)
		for i := range 1203 { // more than one batch
			if err := g.Exec("INSERT INTO users (id, username, username_key, email, email_key, display_name, phone, disabled, admin, password_hash, failed_logins, lockouts, bad_password_marks) VALUES (?, ?, ?, ?, ?, ?, '', false, false, '', 0, 0, '')",
				fmt.Sprintf("ID%05d", i), fmt.Sprintf("old%d", i), fmt.Sprintf("old%d", i), fmt.Sprintf("old%d@example.org", i), fmt.Sprintf("old%d@example.org", i), fmt.Sprintf("Ｚoë %d", i)).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(t.Context(), g, schema.Set()); err != nil {
			t.Fatal(err)
		}
		s := user.NewStore(g, nil)
		if got := walk(t, s, "ZOË 12", 100); len(got) != 14 { // 12, 120-129, 1200-1202
			t.Fatalf("search after migration found %d users: %q", len(got), got)
		}
	})
}
