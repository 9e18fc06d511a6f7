package schema

import (
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// oidcClientAdmin0010 adds what the admin API needs on a client:
// admin_api (its client-credentials tokens may carry latchkey:admin) and
// the previous secret's keyed hash with the moment it stops working, so a
// regenerated secret can overlap the old one for a grace period.
type oidcClientAdmin0010 struct {
	ID                      string     `gorm:"primaryKey;size:64"`
	AdminAPI                bool       `gorm:"column:admin_api;not null;default:false"`
	PreviousSecretHash      *string    `gorm:"column:previous_secret_hash;size:64"`
	PreviousSecretExpiresAt *time.Time `gorm:"column:previous_secret_expires_at;precision:6"`
}

func (oidcClientAdmin0010) TableName() string { return "oidc_clients" }

// clientAdmin0010 adds the admin-API flag and the previous secret to
// oidc_clients.
func clientAdmin0010() *db.Migration {
	return &db.Migration{
		ID: "0010_client_admin",
		Migrate: func(tx *gorm.DB) error {
			m := db.Tables(tx).Migrator()
			for _, f := range []string{"AdminAPI", "PreviousSecretHash", "PreviousSecretExpiresAt"} {
				if err := m.AddColumn(&oidcClientAdmin0010{}, f); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
