package user_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/user"
)

// Every statement of a search page (each part, the cursor's next page,
// the groups of the page) reaches users through an index range, never a
// scan of the table or of a whole index, on both databases: the plans
// that keep a search fast with a million users.
func TestSearchUsesIndexes(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		newFixture(t, g)
		us := make([]user.User, 0, 4000)
		for i := range 4000 {
			us = append(us, user.User{Username: fmt.Sprintf("u%04d", i), Email: fmt.Sprintf("m%04d@example.org", i),
				DisplayName: fmt.Sprintf("N%d", i%50)})
		}
		insertUsers(t, g, us)
		if g.Dialector.Name() == db.MySQL {
			for _, tb := range []string{"users", "user_groups"} {
				if err := g.Exec("ANALYZE TABLE " + tb).Error; err != nil {
					t.Fatal(err)
				}
			}
		} else if err := g.Exec("ANALYZE").Error; err != nil {
			t.Fatal(err)
		}
		rec := dbtest.NewRecorder()
		s := user.NewStore(g.Session(&gorm.Session{Logger: rec}), nil)
		for _, q := range []string{"u01", "m01", "n1", "alice", ""} {
			p, err := s.Search(t.Context(), q, 3, "")
			if err != nil {
				t.Fatal(err)
			}
			if p.Next != "" {
				if _, err := s.Search(t.Context(), q, 3, p.Next); err != nil {
					t.Fatal(err)
				}
			}
		}
		sqls := rec.SQL()
		for _, q := range sqls {
			if plan, bad := explain(t, g, q); bad && !orderedWalk(q, plan) {
				t.Errorf("not an index range:\n  %s\n  plan: %s", q, plan)
			}
		}
		if len(sqls) < 10 {
			t.Fatalf("only %d statements recorded: %q", len(sqls), sqls)
		}
		t.Logf("%d statements explained", len(sqls))
	})
}

// orderedWalk: the first page of the whole list reads the username index
// in order and stops after LIMIT rows.
func orderedWalk(q, plan string) bool {
	return !strings.Contains(q, "WHERE") && limitedOrder.MatchString(q) &&
		(strings.HasPrefix(plan, "SCAN users USING INDEX idx_users_username_key") || strings.Contains(plan, "key:idx_users_username_key"))
}

var (
	limitedOrder = regexp.MustCompile(`ORDER BY username_key LIMIT \d+$`)
	sqliteSearch = regexp.MustCompile(`^SEARCH \w+ USING (COVERING )?(INDEX \w+|PRIMARY KEY) \(`)
	mysqlRange   = map[string]bool{"range": true, "ref": true, "eq_ref": true, "const": true}
)

// explain returns q's plan and whether any table in it is read other than
// through an index seek (SQLite: SEARCH ... USING INDEX; MySQL: range,
// ref, eq_ref or const), or needs a sort of its own.
func explain(t *testing.T, g *gorm.DB, q string) (string, bool) {
	t.Helper()
	plan := dbtest.Explain(t, g, q)
	bad := false
	if g.Dialector.Name() == db.SQLite {
		var details []string
		for _, p := range plan {
			details = append(details, p.Detail)
			if !sqliteSearch.MatchString(p.Detail) && !strings.HasPrefix(p.Detail, "USE TEMP B-TREE FOR ORDER BY") {
				bad = true
			}
			// A sort is fine only for the groups of one page (IN list).
			if strings.HasPrefix(p.Detail, "USE TEMP B-TREE") && !strings.Contains(q, "user_groups") {
				bad = true
			}
		}
		return strings.Join(details, "; "), bad
	}
	for _, row := range plan {
		if !mysqlRange[row.Cols["type"]] || strings.Contains(row.Cols["Extra"], "filesort") && !strings.Contains(q, "user_groups") {
			bad = true
		}
	}
	return fmt.Sprint(plan), bad
}
