package schema

import (
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// oidcClientLogo0008 adds logo_uri: the relying party's logo on its
// sign-in page ("" for none); a data:image URL or a URL on the issuer.
type oidcClientLogo0008 struct {
	ID      string `gorm:"primaryKey;size:64"`
	LogoURI string `gorm:"column:logo_uri;type:text"`
}

func (oidcClientLogo0008) TableName() string { return "oidc_clients" }

// clientLogo0008 adds the logo column to oidc_clients.
func clientLogo0008() *db.Migration {
	return &db.Migration{
		ID: "0008_client_logo",
		Migrate: func(tx *gorm.DB) error {
			return db.Tables(tx).Migrator().AddColumn(&oidcClientLogo0008{}, "LogoURI")
		},
	}
}
