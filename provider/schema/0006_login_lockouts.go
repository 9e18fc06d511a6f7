package schema

import (
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// loginLockout0006 is the frozen login_lockouts table: the lockout state
// of a login name that no account has, in the same columns users keep
// theirs, so an unknown name is locked after the same count of wrong
// passwords as a real one. KeyHash is a keyed hash of the normalised name.
type loginLockout0006 struct {
	KeyHash          string     `gorm:"primaryKey;size:64"`
	FailedLogins     int        `gorm:"not null"`
	LockedUntil      *time.Time `gorm:"precision:6"`
	Lockouts         int        `gorm:"not null"`
	BadPasswordMarks string     `gorm:"size:64;not null"`
	UpdatedAt        time.Time  `gorm:"precision:6;not null;index"`
}

func (loginLockout0006) TableName() string { return "login_lockouts" }

// loginLockouts0006 creates login_lockouts.
func loginLockouts0006() *db.Migration {
	return &db.Migration{
		ID: "0006_login_lockouts",
		Migrate: func(tx *gorm.DB) error {
			return db.CreateTables(tx, &loginLockout0006{})
		},
	}
}
