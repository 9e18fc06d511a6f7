package schema

import (
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// opaqueFormat0016 seeds the cluster-wide opaque token format setting
// (cachever.OpaqueFormat; the values are provider/opaque's Format). A
// database some instance has already served (it holds signing keys) may
// still be served by instances of an older release during a rolling
// upgrade, and those open only the library's JWE (1): the fleet keeps
// minting it until the operator runs `latchkey keys opaque-format lk2`
// after the roll. A database nothing has served yet starts with lk2 (2).
func opaqueFormat0016() *db.Migration {
	return &db.Migration{
		ID: "0016_opaque_format",
		Migrate: func(tx *gorm.DB) error {
			var served int64
			if err := tx.Table("oidc_signing_keys").Limit(1).Count(&served).Error; err != nil {
				return err
			}
			format := 2
			if served > 0 {
				format = 1
			}
			return tx.Exec("INSERT INTO latchkey_cache_versions (name, version) VALUES (?, ?)", "opaque_format", format).Error
		},
	}
}
