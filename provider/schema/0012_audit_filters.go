package schema

import (
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// audit0012 indexes audit_events for the administrators' filtered,
// newest-first pages: each filter the log is read by (a user, an event
// type, a time range alone) leads an index that ends in (time, id), the
// keyset order, so a page is one range scan however large the log; the
// (time, id) index also serves retention's oldest-first batches. An
// outcome filter rides on whichever of them applies (it has three values).
func audit0012() *db.Migration {
	return &db.Migration{
		ID: "0012_audit_filters",
		Migrate: func(tx *gorm.DB) error {
			for name, cols := range map[string]string{
				"idx_audit_events_user_time": "user_id, time, id",
				"idx_audit_events_type_time": "type, time, id",
				"idx_audit_events_time_id":   "time, id",
			} {
				if tx.Migrator().HasIndex("audit_events", name) {
					continue
				}
				if err := tx.Exec("CREATE INDEX " + name + " ON audit_events (" + cols + ")").Error; err != nil {
					return err
				}
			}
			return nil
		},
	}
}
