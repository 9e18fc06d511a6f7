package schema

import (
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// oidc0003 is a placeholder filled in by its owner.
func oidc0003() *db.Migration {
	return &db.Migration{
		ID: "0003_oidc",
		Migrate: func(tx *gorm.DB) error {
			return db.CreateTables(tx)
		},
	}
}
