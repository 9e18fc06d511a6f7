package schema

import (
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// tokenIndexes0015 takes index b-trees off the token rows, which every
// token request writes (each index is a page more per commit):
//
//   - session_id of both token tables is read by no query: dropped.
//   - On SQLite, access tokens' grant_id and refresh_token_id are indexed
//     only where set (partial indexes of the non-empty values):
//     client-credentials tokens carry neither, and filled both with empty
//     keys. A query by either repeats the index's condition, or SQLite
//     cannot use the index. MySQL has no partial indexes, so there they
//     stay whole.
func tokenIndexes0015() *db.Migration {
	return &db.Migration{
		ID: "0015_token_indexes",
		Migrate: func(tx *gorm.DB) error {
			m := tx.Migrator()
			for _, table := range []string{"oidc_access_tokens", "oidc_refresh_tokens"} {
				if name := "idx_" + table + "_session_id"; m.HasIndex(table, name) {
					if err := m.DropIndex(table, name); err != nil {
						return err
					}
				}
			}
			if tx.Dialector.Name() != db.SQLite {
				return nil
			}
			for _, col := range []string{"grant_id", "refresh_token_id"} {
				name := "idx_oidc_access_tokens_" + col
				if err := tx.Exec("DROP INDEX IF EXISTS " + name).Error; err != nil {
					return err
				}
				if err := tx.Exec("CREATE INDEX " + name + " ON oidc_access_tokens (" + col + ") WHERE " + col + " <> ''").Error; err != nil {
					return err
				}
			}
			return nil
		},
	}
}
