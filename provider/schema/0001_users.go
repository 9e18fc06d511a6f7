package schema

import (
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// users0001 is a placeholder filled in by its owner.
func users0001() *db.Migration {
	return &db.Migration{
		ID: "0001_users",
		Migrate: func(tx *gorm.DB) error {
			return db.CreateTables(tx)
		},
	}
}
