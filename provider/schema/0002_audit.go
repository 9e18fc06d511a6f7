package schema

import (
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// auditEvent0002 is the frozen append-only audit_events table, indexed for
// the two ways it is read: one user's events, and everything since a time.
type auditEvent0002 struct {
	ID        uint64    `gorm:"primaryKey;autoIncrement"`
	Time      time.Time `gorm:"precision:6;not null;index"`
	Type      string    `gorm:"size:64;not null"`
	UserID    string    `gorm:"size:64;not null;index"`
	FlowID    string    `gorm:"size:64;not null"`
	IP        string    `gorm:"column:ip;size:64;not null"`
	UserAgent string    `gorm:"size:255;not null"`
	Outcome   string    `gorm:"size:16;not null"`
	Detail    string    `gorm:"size:1000;not null"`
}

func (auditEvent0002) TableName() string { return "audit_events" }

// audit0002 creates audit_events.
func audit0002() *db.Migration {
	return &db.Migration{
		ID: "0002_audit",
		Migrate: func(tx *gorm.DB) error {
			return db.CreateTables(tx, &auditEvent0002{})
		},
	}
}
