package schema

import (
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// audit0002 is a placeholder filled in by its owner.
func audit0002() *db.Migration {
	return &db.Migration{
		ID: "0002_audit",
		Migrate: func(tx *gorm.DB) error {
			return db.CreateTables(tx)
		},
	}
}
