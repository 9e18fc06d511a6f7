package audit_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// Every statement of filtered pages (first and later), an export and a
// retention batch reads audit_events through one of its indexes, in the
// index's order: never a scan of the table, never a sort of all matches.
func TestPagesUseIndexes(t *testing.T) {
	dbtest.EachDB(t, auditSets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		// Many users, as in a real log: with three, SQLite's planner
		// rightly prefers a skip-scan of the user index.
		types := []string{audit.SignIn, audit.SignInFailed, audit.PasswordReset, audit.MethodAdded, audit.CodeSent}
		outcomes := []string{audit.OK, audit.OK, audit.OK, audit.Fail, audit.Blocked}
		events := make([]audit.Event, 3000)
		for i := range events {
			events[i] = audit.Event{Time: t0.Add(time.Duration(i) * 100 * time.Millisecond), Type: types[i%5],
				UserID: fmt.Sprintf("U%d", i%400), Outcome: outcomes[i%7%5]}
		}
		if err := g.CreateInBatches(events, 500).Error; err != nil {
			t.Fatal(err)
		}
		if g.Dialector.Name() == db.MySQL {
			if err := g.Exec("ANALYZE TABLE audit_events").Error; err != nil {
				t.Fatal(err)
			}
		} else if err := g.Exec("ANALYZE").Error; err != nil {
			t.Fatal(err)
		}
		rec := dbtest.NewRecorder()
		l := audit.NewLog(g.Session(&gorm.Session{Logger: rec}))
		for _, f := range []audit.Filter{
			{}, {UserID: "U2"}, {Type: audit.PasswordReset}, {Outcome: audit.Fail},
			{Since: t0.Add(100 * time.Second), Until: t0.Add(200 * time.Second)},
			{UserID: "U5", Type: audit.SignIn, Since: t0.Add(10 * time.Second)},
		} {
			f.Limit = 5
			p, err := l.Page(ctx, f, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Page(ctx, f, p.Next); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := l.Export(ctx, io.Discard, audit.JSONL, audit.Filter{UserID: "U7"}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Prune(ctx, t0.Add(10*time.Second), 10); err != nil {
			t.Fatal(err)
		}
		// What the log reads and deletes; the inserts need no plan.
		var sqls []string
		for _, q := range rec.SQL() {
			if verb := strings.ToUpper(strings.Fields(q)[0]); verb == "SELECT" || verb == "DELETE" {
				sqls = append(sqls, q)
			}
		}
		if len(sqls) < 12 {
			t.Fatalf("only %d statements recorded", len(sqls))
		}
		for _, q := range sqls {
			if plan, ok := indexed(t, g, q); !ok {
				t.Errorf("not read through an index in order:\n  %s\n  plan: %s", q, plan)
			}
		}
		t.Logf("%d statements explained", len(sqls))
	})
}

func indexed(t *testing.T, g *gorm.DB, q string) (string, bool) {
	t.Helper()
	var b bytes.Buffer
	ok := true
	for _, p := range dbtest.Explain(t, g, q) {
		if g.Dialector.Name() == db.SQLite {
			fmt.Fprintf(&b, "%s; ", p.Detail)
			switch {
			case strings.HasPrefix(p.Detail, "SEARCH audit_events USING "):
			case strings.HasPrefix(p.Detail, "SCAN audit_events USING ") && strings.Contains(q, " LIMIT "):
				// an index walked in order, stopping after LIMIT rows
			default:
				ok = false // a table scan or a temp B-tree sort
			}
			continue
		}
		fmt.Fprintf(&b, "%v; ", p.Cols)
		typ, extra, key := p.Cols["type"], p.Cols["Extra"], p.Cols["key"]
		walk := typ == "index" && strings.Contains(q, " LIMIT ") && strings.HasPrefix(key, "idx_audit_events_")
		if typ == "ALL" || typ == "index" && !walk || strings.Contains(extra, "filesort") {
			ok = false
		}
	}
	return b.String(), ok
}
