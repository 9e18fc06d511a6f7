package schema_test

import (
	"testing"

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
		for _, table := range []string{"sspr_policy", "sspr_flows", "sspr_failures", "sspr_report_tokens", "sspr_user_state", "sspr_proof_tries"} {
			if !g.Migrator().HasTable(table) {
				t.Errorf("table %s missing", table)
			}
		}
	})
}
