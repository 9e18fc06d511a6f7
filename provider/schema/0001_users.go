package schema

import (
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// user0001 is the frozen users table. The key columns hold user.Normalize
// output and are unique; on MySQL the binary no-pad collation from
// db.CreateTables makes them compare byte-exactly.
type user0001 struct {
	ID                string     `gorm:"primaryKey;size:26"`
	Username          string     `gorm:"size:190;not null"`
	UsernameKey       string     `gorm:"size:190;not null;uniqueIndex"`
	Email             string     `gorm:"size:254;not null"`
	EmailKey          string     `gorm:"size:254;not null;uniqueIndex"`
	DisplayName       string     `gorm:"size:190;not null"`
	Phone             string     `gorm:"size:32;not null"`
	Disabled          bool       `gorm:"not null"`
	Admin             bool       `gorm:"not null;index"`
	PasswordHash      string     `gorm:"size:255;not null"`
	PasswordChangedAt time.Time  `gorm:"precision:6"`
	FailedLogins      int        `gorm:"not null"`
	LockedUntil       *time.Time `gorm:"precision:6"`
	Lockouts          int        `gorm:"not null"`
	BadPasswordMarks  string     `gorm:"size:64;not null"`
	CreatedAt         time.Time  `gorm:"precision:6"`
	UpdatedAt         time.Time  `gorm:"precision:6"`
}

func (user0001) TableName() string { return "users" }

// userGroup0001 is one membership; the group name is normalised.
type userGroup0001 struct {
	UserID string `gorm:"primaryKey;size:26"`
	Name   string `gorm:"column:group_name;primaryKey;size:190;index"`
}

func (userGroup0001) TableName() string { return "user_groups" }

// users0001 creates users and user_groups.
func users0001() *db.Migration {
	return &db.Migration{
		ID: "0001_users",
		Migrate: func(tx *gorm.DB) error {
			return db.CreateTables(tx, &user0001{}, &userGroup0001{})
		},
	}
}
