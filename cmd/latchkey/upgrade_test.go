package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/email"
	pluginschema "github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/schema"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
)

// previousRelease is the last migration of each set that the previous
// release shipped; the upgrade test builds that schema and nothing newer.
var previousRelease = map[string]string{
	schema.Set().Table:       "0004_sessions",
	pluginschema.Set().Table: "0005_push_webpush",
}

// upTo is set cut after the migration with ID last.
func upTo(t *testing.T, set db.Set, last string) db.Set {
	t.Helper()
	for i, m := range set.Migrations {
		if m.ID == last {
			set.Migrations = set.Migrations[:i+1]
			return set
		}
	}
	t.Fatalf("%s has no migration %s", set.Table, last)
	return set
}

// TestUpgradeFromPreviousRelease: a database made by the previous
// release's migrations, holding a user with a password hash, a client, a
// refresh token and an email enrollment written as that release wrote
// them (raw SQL, no current model), is migrated by `latchkey migrate`;
// then the user signs in through the real server, the client and the
// refresh token are unchanged, the sealed address still opens with the
// secret, and the new accounts state knows the user had methods.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		clearLatchkeyEnv(t)
		ctx := t.Context()
		key := secret.Generate()
		k, err := secret.Parse(key)
		if err != nil {
			t.Fatal(err)
		}
		g, err := db.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close(g)
		for _, set := range []db.Set{schema.Set(), pluginschema.Set()} {
			if err := db.Migrate(ctx, g, upTo(t, set, previousRelease[set.Table])); err != nil {
				t.Fatal(err)
			}
		}
		if g.Migrator().HasTable("login_lockouts") || g.Migrator().HasColumn("sspr_user_state", "had_methods") {
			t.Fatal("the previous release's schema already has a newer migration's table or column")
		}

		const pw = "correct horse battery staple"
		hash, err := password.NewHasher(password.Params{Memory: 7168, Time: 5, Threads: 1}).Hash(ctx, pw)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Second)
		const uid, enrollID, addr = "01JUPGRADEALICE00000000000", "01JUPGRADEMETHOD000000000", "alice@example.com"
		sealed := k.Box("method/email").Seal(mustJSON(t, map[string]string{"address": addr}), []byte(enrollID))
		mail := email.New(nil, nil, nil, k)
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO users (id, username, username_key, email, email_key, display_name, phone, disabled, admin,
				password_hash, password_changed_at, failed_logins, locked_until, lockouts, bad_password_marks, created_at, updated_at)
				VALUES (?, 'alice', ?, ?, ?, 'Alice', '', ?, ?, ?, ?, 0, NULL, 0, '', ?, ?)`,
				[]any{uid, user.Normalize("alice"), addr, user.Normalize(addr), false, false, hash, now, now, now}},
			{`INSERT INTO user_groups (user_id, group_name) VALUES (?, 'staff')`, []any{uid}},
			{`INSERT INTO oidc_clients (id, secret_hash, name, redirect_uris, post_logout_redirect_uris, grant_types, public,
				third_party, id_token_alg, access_token_type, access_token_ttl, id_token_ttl, refresh_idle_ttl, refresh_absolute_ttl, created_at)
				VALUES ('wiki', '', 'Team wiki', '["https://wiki.example.com/callback"]', '[]', '["authorization_code","refresh_token"]',
				?, ?, 'RS256', 'opaque', 600, 3600, 0, 0, ?)`, []any{true, false, now}},
			{`INSERT INTO oidc_refresh_tokens (id, token_hash, family_id, grant_id, client_id, user_id, session_id, scopes, audience,
				amr, auth_time, created_at, expires_at, family_expires_at, used_at, revoked_at)
				VALUES ('rt1', 'hash-of-the-token', 'fam1', 'grant1', 'wiki', ?, 'sess1', '["openid","offline_access"]', '["wiki"]',
				'["pwd"]', ?, ?, ?, ?, NULL, NULL)`, []any{uid, now, now, now.Add(24 * time.Hour), now.Add(720 * time.Hour)}},
			{`INSERT INTO sspr_methods (id, user_id, method, label, destination_key, data, counter, created_at, usable_at, verified_at, last_used_at)
				VALUES (?, ?, 'email', ?, ?, ?, 0, ?, ?, ?, NULL)`,
				[]any{enrollID, uid, method.MaskEmail(addr), mail.DestinationKey(addr), sealed, now, now, now}},
		} {
			if err := g.Exec(q.sql, q.args...).Error; err != nil {
				t.Fatalf("previous release's data: %v\n%s", err, q.sql)
			}
		}

		cli := newCLIWith(t, dbURL, key)
		cli.must("", "migrate")

		t.Run("client-intact", func(t *testing.T) {
			out := cli.must("", "client", "show", "wiki")
			for _, want := range []string{"Team wiki", "https://wiki.example.com/callback", "refresh_token"} {
				if !strings.Contains(out, want) {
					t.Errorf("client show lacks %q:\n%s", want, out)
				}
			}
		})
		t.Run("refresh-token-intact", func(t *testing.T) {
			var row struct {
				UserID, ClientID, Scopes string
				RevokedAt                *time.Time
			}
			if err := g.Raw(`SELECT user_id, client_id, scopes, revoked_at FROM oidc_refresh_tokens WHERE token_hash = 'hash-of-the-token'`).
				Scan(&row).Error; err != nil {
				t.Fatal(err)
			}
			if row.UserID != uid || row.ClientID != "wiki" || row.Scopes != `["openid","offline_access"]` || row.RevokedAt != nil {
				t.Fatalf("refresh token after the upgrade: %+v", row)
			}
		})
		t.Run("enrollment-intact", func(t *testing.T) {
			out := cli.must("", "method", "list", "--user", "alice")
			if !strings.Contains(out, enrollID) || !strings.Contains(out, method.MaskEmail(addr)) {
				t.Fatalf("method list after the upgrade:\n%s", out)
			}
			var e method.Enrollment
			if err := g.Raw(`SELECT id, user_id, method, data FROM sspr_methods WHERE id = ?`, enrollID).Scan(&e).Error; err != nil {
				t.Fatal(err)
			}
			if got, err := mail.Address(e); err != nil || got != addr {
				t.Fatalf("sealed address after the upgrade: %q, %v", got, err)
			}
			var had bool
			if err := g.Raw(`SELECT had_methods FROM sspr_user_state WHERE user_id = ?`, uid).Scan(&had).Error; err != nil || !had {
				t.Fatalf("the upgrade did not record that alice had methods (%v, %v)", had, err)
			}
		})
		t.Run("user-signs-in", func(t *testing.T) {
			srv := startServe(t, "--database", dbURL, "--secret", key, "--argon2-memory", "7168", "--argon2-time", "5")
			resp, body := signIn(t, srv.base, "alice", pw)
			if resp.Request.URL.Path == "/login" || strings.Contains(body, `name="password"`) {
				t.Fatalf("alice could not sign in after the upgrade: at %s (%d)\n%.2000s", resp.Request.URL, resp.StatusCode, body)
			}
			srv.stop()
			if out := cli.must("", "audit", "--type", "signin"); !regexp.MustCompile(`signin\s+alice\s+ok`).MatchString(out) {
				t.Fatalf("no successful sign-in audited for alice:\n%s", out)
			}
		})
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signIn posts username and password on the sign-in page and returns
// where the browser ended.
func signIn(t *testing.T, base, username, pw string) (*http.Response, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, body := get(t, b, base+"/login")
	target, vals := signInForm(t, resp, body, username, pw)
	resp, err := b.PostForm(target.String(), vals)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(out)
}
