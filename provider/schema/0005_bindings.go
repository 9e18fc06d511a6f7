package schema

import (
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// authRequestBinding0005 adds hold_session: a request whose user was sent
// to register security methods stays pending until that is done.
type authRequestBinding0005 struct {
	AuthRequestID string    `gorm:"primaryKey;size:64"`
	BrowserHash   string    `gorm:"size:64;not null"`
	ExpiresAt     time.Time `gorm:"precision:6;index;not null"`
	HoldSession   string    `gorm:"size:32;not null;default:'';index"`
}

func (authRequestBinding0005) TableName() string { return "auth_request_bindings" }

// bindingHold0005 adds the registration hold to auth_request_bindings.
func bindingHold0005() *db.Migration {
	return &db.Migration{
		ID: "0005_binding_hold",
		Migrate: func(tx *gorm.DB) error {
			m := db.Tables(tx).Migrator()
			if err := m.AddColumn(&authRequestBinding0005{}, "HoldSession"); err != nil {
				return err
			}
			return m.CreateIndex(&authRequestBinding0005{}, "HoldSession")
		},
	}
}
