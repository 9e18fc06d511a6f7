package schema

import (
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// sessions0004 is a placeholder filled in by its owner.
func sessions0004() *db.Migration {
	return &db.Migration{
		ID: "0004_sessions",
		Migrate: func(tx *gorm.DB) error {
			return db.CreateTables(tx)
		},
	}
}
