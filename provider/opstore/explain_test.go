package opstore_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/seed"
	"github.com/latchkeyid/latchkey/provider/session"
)

// Tables small by nature (a few signing keys, two counters), read whole on
// purpose.
var smallTables = regexp.MustCompile(`\b(oidc_signing_keys|latchkey_cache_versions|latchkey_migrations)\b`)

// Every statement of the hot paths (client credentials, the code flow,
// refresh rotation, introspection, userinfo, revocation, sign-in, session
// lookup, cleanup) uses an index on both databases: EXPLAIN shows no full
// scan of any table. The tables hold a few thousand rows, enough for
// MySQL's optimizer to prefer an index whenever one fits.
func TestHotQueriesUseIndexes(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		rec := dbtest.NewRecorder()
		rg := g.Session(&gorm.Session{Logger: rec})
		e := newEnv(t, rg)
		const rows = 3000
		now := e.clk.Now()
		if err := seed.Users(ctx, g, "seeded", rows, e.alice.PasswordHash); err != nil {
			t.Fatal(err)
		}
		for _, ttl := range []time.Duration{-time.Hour, time.Hour} {
			if err := seed.AccessTokens(ctx, g, "svc", "svc", rows/2, now.Add(ttl)); err != nil {
				t.Fatal(err)
			}
			if err := seed.RefreshTokens(ctx, g, "web", e.alice.ID, rows/2, now.Add(ttl)); err != nil {
				t.Fatal(err)
			}
		}
		if g.Dialector.Name() == db.MySQL {
			for _, tb := range []string{"users", "oidc_access_tokens", "oidc_refresh_tokens"} {
				if err := g.Exec("ANALYZE TABLE " + tb).Error; err != nil {
					t.Fatal(err)
				}
			}
		}
		rec.Reset() // only the paths below

		// Client credentials and introspection over the real OP.
		srv := opServer(t, e)
		if status, body := post(t, srv.URL+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "svc", e.svcSec); status != http.StatusOK {
			t.Fatalf("client credentials: %d %v", status, body)
		}
		// The code flow, refresh rotation, userinfo, introspection, revocation.
		at, rt := e.codeTokens(t, "web", true)
		if err := e.s.SetUserinfoFromToken(ctx, new(oidc.UserInfo), at, e.alice.ID, ""); err != nil {
			t.Fatal(err)
		}
		if !e.active(t, at, e.alice.ID, "web") {
			t.Fatal("access token not active")
		}
		_, next, err := e.refresh(t, rt)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.refresh(t, rt); err == nil { // reuse: revokes the family
			t.Fatal("reused refresh token accepted")
		}
		if oe := e.s.RevokeToken(ctx, next, e.alice.ID, "web"); oe != nil {
			t.Fatal(oe)
		}
		// A replayed code revokes its grant's tokens.
		ar := e.authorize(t, "web", "openid")
		e.signIn(t, ar, "explained")
		req, err := e.s.AuthRequestByCode(ctx, "explained")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.s.CreateAccessToken(ctx, req); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.AuthRequestByCode(ctx, "explained"); err == nil {
			t.Fatal("replayed code accepted")
		}
		// Sign-in and the browser session.
		if _, err := e.users.Authenticate(ctx, "alice", "correct horse battery staple"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.users.Authenticate(ctx, "seeded7", "wrong"); err == nil {
			t.Fatal("wrong password accepted")
		}
		if _, err := e.users.Authenticate(ctx, "nobody", "wrong"); err == nil {
			t.Fatal("unknown user accepted")
		}
		sessions := session.NewStore(rg)
		_, tok, err := sessions.Create(ctx, rg, e.alice.ID, []string{"pwd"}, now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sessions.Lookup(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if err := e.s.Cleanup(ctx); err != nil {
			t.Fatal(err)
		}

		sqls := rec.SQL()
		// The Writer's statements, with values inlined as the recorder has
		// them.
		for _, q := range opstore.WriterStatements {
			args := make([]any, strings.Count(q, "?"))
			for i := range args {
				args[i] = "x"
			}
			sqls = append(sqls, g.Dialector.Explain(q, args...))
		}
		explained := 0
		for _, q := range sqls {
			verb := strings.ToUpper(strings.Fields(q)[0])
			if (verb != "SELECT" && verb != "UPDATE" && verb != "DELETE") || smallTables.MatchString(q) {
				continue
			}
			explained++
			if scan := fullScan(t, g, q); scan != "" {
				t.Errorf("full scan (%s) in:\n  %s", scan, q)
			}
		}
		t.Logf("%d statements explained", explained)
		if explained < 15 {
			t.Fatalf("only %d statements explained: the recorder missed the hot paths", explained)
		}
	})
}

var limitedOrder = regexp.MustCompile(`ORDER BY \w+ LIMIT \d+$`)

// fullScan explains q and describes the first full table scan in its plan
// ("" when every table is reached through an index).
func fullScan(t *testing.T, g *gorm.DB, q string) string {
	t.Helper()
	for _, p := range dbtest.Explain(t, g, q) {
		if g.Dialector.Name() == db.SQLite {
			// "SCAN t" reads the whole table; "SEARCH t USING INDEX" and
			// "SCAN t USING COVERING INDEX" of a subquery's LIMIT do not.
			if strings.HasPrefix(p.Detail, "SCAN ") && !strings.Contains(p.Detail, " USING ") &&
				!strings.HasPrefix(p.Detail, "SCAN CONSTANT") {
				return p.Detail
			}
			continue
		}
		row := p.Cols
		// ALL reads every row, index every entry of an index, except that
		// an index walked in order under a LIMIT stops after LIMIT rows
		// (cleanup's oldest-first batches).
		walk := row["type"] == "index" && row["key"] != "PRIMARY" && limitedOrder.MatchString(q)
		if (row["type"] == "ALL" || row["type"] == "index" && !walk) && row["table"] != "" && !strings.HasPrefix(row["table"], "<") {
			return "type " + row["type"] + " on " + row["table"] + ", key " + row["key"] + ", " + row["Extra"]
		}
	}
	return ""
}
