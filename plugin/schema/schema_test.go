package schema_test

import (
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pschema "github.com/latchkeyid/latchkey/provider/schema"
)

// TestMigratesBesideProvider applies the provider's and the plugin's sets
// to one database, twice (the second run is a no-op).
func TestMigratesBesideProvider(t *testing.T) {
	dbtest.EachDB(t, []db.Set{pschema.Set(), schema.Set()}, func(t *testing.T, g *gorm.DB) {
		for _, s := range []db.Set{pschema.Set(), schema.Set()} {
			if err := db.Migrate(t.Context(), g, s); err != nil {
				t.Fatal(err)
			}
		}
		for _, table := range []string{"sspr_policy", "sspr_flows", "sspr_failures", "sspr_report_tokens", "sspr_user_state", "sspr_proof_tries", "admin_idempotency_keys", "sspr_custom_question_texts"} {
			if !g.Migrator().HasTable(table) {
				t.Errorf("table %s missing", table)
			}
		}
	})
}

// TestAccountsBackfill: the migration that adds "had methods" marks every
// user who holds a method, or whose audit shows one added or removed, and
// no one else; existing rows keep their skips.
func TestAccountsBackfill(t *testing.T) {
	dbtest.EachDB(t, []db.Set{pschema.Set()}, func(t *testing.T, g *gorm.DB) {
		all := schema.Set()
		if err := db.Migrate(t.Context(), g, before("0007_sspr_accounts")); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO sspr_methods (id, user_id, method, label, destination_key, counter, created_at, usable_at, verified_at)
				VALUES ('m1', 'holder', 'email', 'x', 'k', 0, ?, ?, ?)`, []any{now, now, now}},
			{`INSERT INTO sspr_user_state (user_id, skips, updated_at) VALUES ('holder', 2, ?), ('skipper', 1, ?)`, []any{now, now}},
			{`INSERT INTO audit_events (time, type, user_id, ip, user_agent, outcome, detail, flow_id)
				VALUES (?, 'method.removed', 'deleter', '', '', 'ok', '', '')`, []any{now}},
		} {
			if err := g.Exec(q.sql, q.args...).Error; err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(t.Context(), g, all); err != nil {
			t.Fatal(err)
		}
		var rows []struct {
			UserID     string
			Skips      int
			HadMethods bool
		}
		if err := g.Raw("SELECT user_id, skips, had_methods FROM sspr_user_state ORDER BY user_id").Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprint(rows)
		if want := "[{deleter 0 true} {holder 2 true} {skipper 1 false}]"; got != want {
			t.Fatalf("user state %s, want %s", got, want)
		}
	})
}

// before is every plugin migration before id (later ones may follow it).
func before(id string) db.Set {
	all := schema.Set()
	out := db.Set{Table: all.Table}
	for _, m := range all.Migrations {
		if m.ID == id {
			break
		}
		out.Migrations = append(out.Migrations, m)
	}
	return out
}

// TestQuestionTextsBackfill: each custom question's one text becomes its
// English text.
func TestQuestionTextsBackfill(t *testing.T) {
	dbtest.EachDB(t, []db.Set{pschema.Set()}, func(t *testing.T, g *gorm.DB) {
		if err := db.Migrate(t.Context(), g, before("0010_question_texts")); err != nil {
			t.Fatal(err)
		}
		err := g.Exec(`INSERT INTO sspr_custom_questions (id, text, created_at) VALUES ('c1', 'Where was our first office?', ?), ('c2', 'Who was our first customer?', ?)`,
			time.Now().UTC(), time.Now().UTC()).Error
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(t.Context(), g, schema.Set()); err != nil {
			t.Fatal(err)
		}
		var rows []struct{ QuestionID, Lang, Text string }
		if err := g.Raw("SELECT question_id, lang, text FROM sspr_custom_question_texts ORDER BY question_id").Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprint(rows), "[{c1 en Where was our first office?} {c2 en Who was our first customer?}]"; got != want {
			t.Fatalf("texts %s, want %s", got, want)
		}
	})
}
