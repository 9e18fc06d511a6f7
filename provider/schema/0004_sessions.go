package schema

import (
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// userSession0004 is the frozen shape of user_sessions (browser SSO).
type userSession0004 struct {
	ID         string     `gorm:"primaryKey;size:32"`
	TokenHash  string     `gorm:"size:64;uniqueIndex;not null"`
	UserID     string     `gorm:"size:64;index;not null"`
	AuthTime   time.Time  `gorm:"precision:6;not null"`
	AMR        string     `gorm:"type:text"`
	CreatedAt  time.Time  `gorm:"precision:6;not null"`
	LastSeenAt time.Time  `gorm:"precision:6;not null"`
	ExpiresAt  time.Time  `gorm:"precision:6;index;not null"`
	RevokedAt  *time.Time `gorm:"precision:6"`
}

func (userSession0004) TableName() string { return "user_sessions" }

// authRequestBinding0004 ties a pending auth request to the browser that
// opened its sign-in page.
type authRequestBinding0004 struct {
	AuthRequestID string    `gorm:"primaryKey;size:64"`
	BrowserHash   string    `gorm:"size:64;not null"`
	ExpiresAt     time.Time `gorm:"precision:6;index;not null"`
}

func (authRequestBinding0004) TableName() string { return "auth_request_bindings" }

// sessions0004 creates the browser session tables.
func sessions0004() *db.Migration {
	return &db.Migration{
		ID: "0004_sessions",
		Migrate: func(tx *gorm.DB) error {
			return db.CreateTables(tx, &userSession0004{}, &authRequestBinding0004{})
		},
	}
}
