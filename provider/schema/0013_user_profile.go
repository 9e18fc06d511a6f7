package schema

import (
	"time"

	"github.com/latchkeyid/latchkey/provider/db"

	"gorm.io/gorm"
)

// userProfile0013 adds what the admin API's user operations need:
//   - given_name and family_name, the OpenID Connect profile claims an
//     administrator may set beside the display name;
//   - register_again_at, set when an administrator requires the user to
//     register their recovery methods again: the next sign-in sends them
//     to register whatever the policy says, and the methods they had are
//     gone. Cleared once they have enough methods again.
type userProfile0013 struct {
	ID              string     `gorm:"primaryKey;size:26"`
	GivenName       string     `gorm:"size:190;not null;default:''"`
	FamilyName      string     `gorm:"size:190;not null;default:''"`
	RegisterAgainAt *time.Time `gorm:"precision:6"`
}

func (userProfile0013) TableName() string { return "users" }

func userProfile0013Migration() *db.Migration {
	return &db.Migration{
		ID: "0013_user_profile",
		Migrate: func(tx *gorm.DB) error {
			m := db.Tables(tx).Migrator()
			for _, col := range []string{"GivenName", "FamilyName", "RegisterAgainAt"} {
				if !m.HasColumn(&userProfile0013{}, col) {
					if err := m.AddColumn(&userProfile0013{}, col); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
}
