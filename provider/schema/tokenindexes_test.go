package schema_test

import (
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/schema"
)

// TestTokenIndexesMigration: 0015 drops the token tables' session_id
// indexes, which no query reads, and on SQLite keeps client-credentials
// tokens (no grant, no refresh token) out of the grant_id and
// refresh_token_id indexes, which still find the tokens that have one.
func TestTokenIndexesMigration(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		g := dbtest.Open(t, url, upTo(t, "0012_audit_filters"))
		now := time.Date(2026, 12, 4, 1, 0, 0, 0, time.UTC)
		for _, r := range [][]any{{"CC", "", ""}, {"CODE", "GRANT", "RT"}} {
			if err := g.Exec(`INSERT INTO oidc_access_tokens (id, client_id, subject, grant_id, refresh_token_id,
				session_id, scopes, audience, created_at, expires_at) VALUES (?, 'c', 's', ?, ?, '', '[]', '[]', ?, ?)`,
				r[0], r[1], r[2], now, now.Add(time.Hour)).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(t.Context(), g, schema.Set()); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"oidc_access_tokens", "oidc_refresh_tokens"} {
			if name := "idx_" + table + "_session_id"; g.Migrator().HasIndex(table, name) {
				t.Errorf("%s still has %s", table, name)
			}
		}
		if g.Dialector.Name() != db.SQLite {
			return
		}
		for _, tc := range []struct{ col, id string }{{"grant_id", "GRANT"}, {"refresh_token_id", "RT"}} {
			idx := "idx_oidc_access_tokens_" + tc.col
			var ids []string
			// INDEXED BY fails unless the query can use the index.
			if err := g.Raw("SELECT id FROM oidc_access_tokens INDEXED BY "+idx+" WHERE "+tc.col+" = ? AND "+tc.col+" <> ''", tc.id).
				Scan(&ids).Error; err != nil || len(ids) != 1 || ids[0] != "CODE" {
				t.Errorf("%s finds %v (%v), want CODE", idx, ids, err)
			}
			if err := g.Raw("SELECT id FROM oidc_access_tokens INDEXED BY " + idx + " WHERE " + tc.col + " = ''").
				Scan(&ids).Error; err == nil {
				t.Errorf("%s holds the empty keys of client-credentials tokens", idx)
			}
		}
	})
}
