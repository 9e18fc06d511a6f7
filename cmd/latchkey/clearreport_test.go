package main

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/user"
)

// TestUserClearReport: `latchkey user clear-report U` ends the reported
// state a "This wasn't me" link put the account in (the state recovery
// refuses), says so in `user show`, and is audited; on SQLite and MySQL.
func TestUserClearReport(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		c := newCLI(t, url)
		c.must(alicePW+"\n", "user", "create", "--username", "alice", "--email", "alice@example.com", "--password-stdin")
		g := dbtest.Open(t, url, migrationSets()...)
		u, err := user.NewStore(g, nil).ByLogin(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		// What the report link leaves behind (plugin/notify.go report).
		if err := g.Exec(`INSERT INTO sspr_user_state (user_id, skips, updated_at, had_methods, first_session_id, reported_at)
			VALUES (?, 0, ?, ?, '', ?)`, u.ID, time.Now().UTC(), true, time.Now().UTC()).Error; err != nil {
			t.Fatal(err)
		}
		steps := []cliStep{
			{"show-reported", "", []string{"user", "show", "alice"}, 0, "self-service recovery refused until clear-report", ""},
			{"clear", "", []string{"user", "clear-report", "alice"}, 0, "cleared the report on alice", ""},
			{"clear-again", "", []string{"user", "clear-report", "alice"}, 0, "alice has no report to clear", ""},
			{"clear-unknown", "", []string{"user", "clear-report", "nobody"}, exitFailed, `no user "nobody"`, ""},
			{"audited", "", []string{"audit", "--type", "admin.user.clear-report"}, 0, "admin.user.clear-report", ""},
		}
		c.runSteps(steps)
		if rep, _, err := plugin.Reported(t.Context(), g, u.ID); err != nil || rep {
			t.Fatalf("still reported after clear-report: %v %v", rep, err)
		}
		evs, err := audit.NewLog(g).List(t.Context(), audit.Filter{UserID: u.ID, Type: "admin.user.clear-report"})
		if err != nil || len(evs) != 1 {
			t.Fatalf("clear-report audited %d times (%v), want once (the second run cleared nothing)", len(evs), err)
		}
		if r := c.run("", "user", "show", "alice"); strings.Contains(r.out, "reported") {
			t.Fatalf("show still says reported:\n%s", r.out)
		}
	})
}
