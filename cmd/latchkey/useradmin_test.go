package main

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
)

// The administrators' user commands on SQLite and MySQL: search pages,
// temporary passwords, setup links, the last-administrator guard, profile
// updates and sessions, each checked in the database too.
func TestUserAdminCommands(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		c := newCLI(t, dbURL)
		for _, n := range []string{"alice", "albert", "alfred", "bob"} {
			c.must(alicePW+"\n", "user", "create", "--username", n, "--email", n+"@example.com", "--name", strings.ToUpper(n[:1])+n[1:]+" Smith", "--password-stdin")
		}
		c.must("", "user", "admin", "alice", "--grant")
		g := dbtest.Open(t, c.dbURL, migrationSets()...)
		k, err := secret.Parse(c.secret)
		if err != nil {
			t.Fatal(err)
		}
		users := user.NewStore(g, password.NewHasher(password.Params{Memory: 7168, Time: 5, Threads: 1}), user.WithKeyring(k))
		ctx := t.Context()
		byName := func(n string) *user.User {
			t.Helper()
			u, err := users.ByLogin(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			return u
		}

		t.Run("search-pages", func(t *testing.T) {
			out := c.must("", "user", "search", "AL", "--limit", "2")
			m := regexp.MustCompile(`--cursor (\S+)`).FindStringSubmatch(out)
			if !strings.Contains(out, "albert") || !strings.Contains(out, "alfred") || strings.Contains(out, "alice") || m == nil {
				t.Fatalf("first page:\n%s", out)
			}
			out = c.must("", "user", "search", "AL", "--limit", "2", "--cursor", m[1])
			if !strings.Contains(out, "alice") || strings.Contains(out, "albert") || strings.Contains(out, "--cursor") {
				t.Fatalf("second page:\n%s", out)
			}
			if out := c.must("", "user", "search", "bob smi"); !strings.Contains(out, "bob@example.com") {
				t.Fatalf("search by name:\n%s", out)
			}
			if r := c.run("", "user", "search", "al", "--cursor", "bogus"); r.code != exitUsage || !strings.Contains(r.err, "--cursor") {
				t.Fatalf("bad cursor: %d %s", r.code, r.err)
			}
		})

		t.Run("temporary-generated", func(t *testing.T) {
			out := c.must("", "user", "reset-password", "bob", "--temporary")
			m := regexp.MustCompile(`temporary password: (\S+)`).FindStringSubmatch(out)
			if m == nil || !strings.Contains(out, "must change it") {
				t.Fatalf("output:\n%s", out)
			}
			u, err := users.Authenticate(ctx, "bob", m[1])
			if err != nil || !u.MustChangePassword {
				t.Fatalf("sign-in with the printed password: %+v, %v", u, err)
			}
			if _, err := users.Authenticate(ctx, "bob", alicePW); !errors.Is(err, user.ErrBadCredentials) {
				t.Fatalf("old password: %v", err)
			}
			if out := c.must("", "user", "show", "bob"); !strings.Contains(out, "temporary: must be changed") {
				t.Fatalf("show:\n%s", out)
			}
		})
		t.Run("temporary-from-stdin", func(t *testing.T) {
			out := c.must("quiet orchid lantern\n", "user", "reset-password", "bob", "--temporary", "--password-stdin")
			if strings.Contains(out, "quiet orchid lantern") || strings.Contains(out, "temporary password:") {
				t.Fatalf("a password given on stdin was printed:\n%s", out)
			}
			if u, err := users.Authenticate(ctx, "bob", "quiet orchid lantern"); err != nil || !u.MustChangePassword {
				t.Fatalf("%+v, %v", u, err)
			}
			c.must("my own choice of words\n", "user", "reset-password", "bob", "--password-stdin")
			if u := byName("bob"); u.MustChangePassword {
				t.Fatal("a plain reset left the must-change flag")
			}
		})
		t.Run("setup-link", func(t *testing.T) {
			out := c.must("", "user", "reset-password", "bob", "--setup-link", "--link-ttl", "1h")
			m := regexp.MustCompile(`setup link \(one use, until \S+\): (\S+)`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("output:\n%s", out)
			}
			link, err := url.Parse(m[1])
			if err != nil || link.Path != "/security-info/setup" || !strings.HasPrefix(m[1], "http://localhost:8080/") {
				t.Fatalf("link %q: %v", m[1], err)
			}
			if _, err := users.Authenticate(ctx, "bob", "my own choice of words"); !errors.Is(err, user.ErrBadCredentials) {
				t.Fatalf("the old password still signs in: %v", err)
			}
			if out := c.must("", "user", "show", "bob"); !strings.Contains(out, "password:  none") && !strings.Contains(out, "none (a setup link") {
				t.Fatalf("show:\n%s", out)
			}
			id, err := users.RedeemSetupLink(ctx, link.Query().Get("token"))
			if err != nil || id != byName("bob").ID {
				t.Fatalf("redeem = %q, %v", id, err)
			}
			if _, err := users.RedeemSetupLink(ctx, link.Query().Get("token")); !errors.Is(err, user.ErrSetupLink) {
				t.Fatalf("second redeem = %v", err)
			}
		})
		t.Run("create-with-setup-link-or-temporary", func(t *testing.T) {
			out := c.must("", "user", "create", "--username", "newbie", "--email", "newbie@example.com", "--setup-link")
			m := regexp.MustCompile(`setup link \(one use, until \S+\): \S+\?token=(\S+)`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("output:\n%s", out)
			}
			tok, _ := url.QueryUnescape(m[1])
			if id, err := users.SetupLinkUser(ctx, tok); err != nil || id != byName("newbie").ID || byName("newbie").PasswordHash != "" {
				t.Fatalf("link for %q (%v); hash %q", id, err, byName("newbie").PasswordHash)
			}
			c.must("first day passphrase\n", "user", "create", "--username", "intern", "--email", "intern@example.com", "--password-stdin", "--temporary")
			if u, err := users.Authenticate(ctx, "intern", "first day passphrase"); err != nil || !u.MustChangePassword {
				t.Fatalf("temporary at creation: %+v, %v", u, err)
			}
			if r := c.run("", "user", "create", "--username", "x1", "--email", "x1@example.com", "--setup-link", "--temporary"); r.code != exitUsage {
				t.Fatalf("--setup-link --temporary: %d %s", r.code, r.err)
			}
		})
		t.Run("setup-link-for-disabled-user", func(t *testing.T) {
			c.must("", "user", "disable", "bob")
			defer c.must("", "user", "enable", "bob")
			if r := c.run("", "user", "reset-password", "bob", "--setup-link"); r.code != exitUsage || !strings.Contains(r.err, "disabled") {
				t.Fatalf("exit %d: %s", r.code, r.err)
			}
		})
		t.Run("reset-needs-a-way", func(t *testing.T) {
			for _, args := range [][]string{
				{"user", "reset-password", "bob"},
				{"user", "reset-password", "bob", "--setup-link", "--temporary"},
				{"user", "reset-password", "bob", "--setup-link", "--password-stdin"},
			} {
				if r := c.run("x\n", args...); r.code != exitUsage {
					t.Fatalf("%v: exit %d, %s", args, r.code, r.err)
				}
			}
		})

		t.Run("last-admin", func(t *testing.T) {
			for _, step := range []struct {
				args []string
				code int
				out  string
			}{
				{[]string{"user", "admin", "alice", "--revoke"}, exitUsage, "last enabled administrator"},
				{[]string{"user", "disable", "alice"}, exitUsage, "last enabled administrator"},
				{[]string{"user", "delete", "alice"}, exitUsage, "last enabled administrator"},
				{[]string{"user", "admin", "albert", "--grant"}, 0, "albert is an administrator"},
				{[]string{"user", "admin", "alice", "--revoke"}, 0, "alice is no longer"},
				{[]string{"user", "disable", "albert"}, exitUsage, "last enabled administrator"},
				{[]string{"user", "admin", "albert", "--grant", "--revoke"}, exitUsage, ""},
			} {
				r := c.run("", step.args...)
				got := r.out
				if r.code != 0 {
					got = r.err
				}
				if r.code != step.code || !strings.Contains(got, step.out) {
					t.Fatalf("%v: exit %d\n%s%s", step.args, r.code, r.out, r.err)
				}
			}
			if !byName("albert").Admin || byName("albert").Disabled || byName("alice").Admin {
				t.Fatal("the flags in the database do not match the commands")
			}
			if out := c.must("", "audit", "--type", "admin.user.admin"); !strings.Contains(out, "fail") || !strings.Contains(out, "ok") {
				t.Fatalf("admin changes not audited:\n%s", out)
			}
		})

		t.Run("update-profile", func(t *testing.T) {
			c.must("", "user", "update", "alfred", "--name", "Alfred Pennyworth", "--phone", "+14155550123")
			u := byName("alfred")
			if u.DisplayName != "Alfred Pennyworth" || u.Phone != "+14155550123" || u.Email != "alfred@example.com" {
				t.Fatalf("stored %+v", u)
			}
			if r := c.run("", "user", "update", "alfred", "--email", "BOB@example.com"); r.code != exitUsage {
				t.Fatalf("taking bob's address: %d %s", r.code, r.err)
			}
			if r := c.run("", "user", "update", "alfred"); r.code != exitUsage {
				t.Fatalf("nothing to change: %d", r.code)
			}
			if out := c.must("", "user", "search", "alfred penny"); !strings.Contains(out, "alfred@example.com") {
				t.Fatalf("search by the new name:\n%s", out)
			}
		})

		t.Run("sessions", func(t *testing.T) {
			if out := c.must("", "user", "sessions", "alice"); !strings.Contains(out, "no signed-in sessions") {
				t.Fatalf("sessions:\n%s", out)
			}
		})
	})
}

// audit export writes what the log holds in either format, filtered, and
// it reads back into the same records; the plain listing still works.
func TestAuditExportCommand(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		c := newCLI(t, dbURL)
		c.must(alicePW+"\n", "user", "create", "--username", "alice", "--email", "alice@example.com", "--name", "=1+2", "--password-stdin")
		c.must("", "user", "lock", "alice")
		c.must("", "user", "unlock", "alice")
		g := dbtest.Open(t, c.dbURL, migrationSets()...)
		log := audit.NewLog(g)
		all, err := log.List(t.Context(), audit.Filter{})
		if err != nil || len(all) < 3 {
			t.Fatalf("events: %d, %v", len(all), err)
		}
		for _, format := range []string{audit.CSV, audit.JSONL} {
			t.Run(format, func(t *testing.T) {
				r := c.run("", "audit", "export", "--format", format)
				if r.code != 0 || !strings.Contains(r.err, fmt.Sprintf("exported %d events", len(all))) {
					t.Fatalf("exit %d\n%s", r.code, r.err)
				}
				got, err := audit.ReadExport(strings.NewReader(r.out), format)
				if err != nil || len(got) != len(all) {
					t.Fatalf("read back %d, %v", len(got), err)
				}
				for i := range got {
					if got[i] != all[i] {
						t.Fatalf("record %d: %+v, want %+v", i, got[i], all[i])
					}
				}
			})
		}
		for _, tt := range []struct {
			name string
			args []string
			code int
			want int // events, -1 for a usage error
		}{
			{"by-type", []string{"--type", "admin.user.lock"}, 0, 1},
			{"by-user", []string{"--user", "alice", "--outcome", "ok"}, 0, len(all)},
			{"future", []string{"--since", "2999-01-01"}, 0, 0},
			{"past", []string{"--until", "2000-01-01T00:00:00Z"}, 0, 0},
			{"last-hour", []string{"--since", "1h"}, 0, len(all)},
			{"bad-outcome", []string{"--outcome", "maybe"}, exitUsage, -1},
			{"bad-time", []string{"--since", "yesterday"}, exitUsage, -1},
			{"inverted-range", []string{"--since", "2026-01-02", "--until", "2026-01-01"}, exitUsage, -1},
			{"bad-format", []string{"--format", "xml"}, exitUsage, -1},
		} {
			t.Run(tt.name, func(t *testing.T) {
				args := append([]string{"audit", "export", "--format", "jsonl"}, tt.args...)
				r := c.run("", args...)
				if r.code != tt.code {
					t.Fatalf("exit %d, want %d\n%s", r.code, tt.code, r.err)
				}
				if tt.want < 0 {
					return
				}
				got, err := audit.ReadExport(strings.NewReader(r.out), audit.JSONL)
				if err != nil || len(got) != tt.want {
					t.Fatalf("%d events (%v), want %d:\n%s", len(got), err, tt.want, r.out)
				}
			})
		}
		if out := c.must("", "audit", "--type", "admin.user.lock"); !strings.Contains(out, "admin.user.lock") {
			t.Fatalf("the listing:\n%s", out)
		}
	})
}
