package schema

import (
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// cacheVersion0007 is one counter of provider/cachever: bumped with every
// change to what instances cache (clients, signing keys), so each instance
// knows when to reload.
type cacheVersion0007 struct {
	Name    string `gorm:"primaryKey;size:32"`
	Version int64  `gorm:"not null"`
}

func (cacheVersion0007) TableName() string { return "latchkey_cache_versions" }

// cacheVersions0007 creates latchkey_cache_versions with its two counters.
func cacheVersions0007() *db.Migration {
	return &db.Migration{
		ID: "0007_cache_versions",
		Migrate: func(tx *gorm.DB) error {
			if err := db.CreateTables(tx, &cacheVersion0007{}); err != nil {
				return err
			}
			return tx.Create([]cacheVersion0007{{Name: "clients", Version: 1}, {Name: "keys", Version: 1}}).Error
		},
	}
}
