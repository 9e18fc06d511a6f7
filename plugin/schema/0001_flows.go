package schema

import (
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// policy0001 is the frozen shape of sspr_policy: one row, the policy JSON.
type policy0001 struct {
	ID        int       `gorm:"primaryKey;autoIncrement:false"`
	Body      string    `gorm:"type:text;not null"`
	UpdatedAt time.Time `gorm:"precision:6;not null"`
}

func (policy0001) TableName() string { return "sspr_policy" }

// flow0001 is the frozen shape of sspr_flows: one recovery, step-up or
// registration in progress.
type flow0001 struct {
	ID            string     `gorm:"primaryKey;size:32"`
	BindHash      string     `gorm:"size:64;not null"`
	Purpose       string     `gorm:"size:16;not null"`
	UserID        string     `gorm:"size:64;index;not null"`
	Subject       string     `gorm:"size:80;not null"`
	Decoy         bool       `gorm:"not null"`
	AuthRequestID string     `gorm:"size:190;not null"`
	SessionID     string     `gorm:"size:64;index;not null"`
	Intent        string     `gorm:"size:16;not null"`
	State         string     `gorm:"size:24;not null"`
	Proofs        string     `gorm:"type:text"`
	EnrollmentID  string     `gorm:"size:64;not null"`
	ChallengeID   string     `gorm:"size:64;not null"`
	Challenge     []byte     `gorm:"type:blob"`
	Data          []byte     `gorm:"type:blob"`
	Version       int        `gorm:"not null"`
	CreatedAt     time.Time  `gorm:"precision:6;not null"`
	ExpiresAt     time.Time  `gorm:"precision:6;index;not null"`
	DoneAt        *time.Time `gorm:"precision:6"`
}

func (flow0001) TableName() string { return "sspr_flows" }

// failure0001 is one failed proof (sspr_failures): 5 in 24 h block a
// subject's recovery. Subject is a user id, or a decoy key for unknown
// names, so decoys block exactly like real users.
type failure0001 struct {
	ID      uint64    `gorm:"primaryKey;autoIncrement"`
	Subject string    `gorm:"size:80;index:idx_sspr_failures_subject_at;not null"`
	At      time.Time `gorm:"precision:6;index:idx_sspr_failures_subject_at;not null"`
}

func (failure0001) TableName() string { return "sspr_failures" }

// reportToken0001 is a "This wasn't me" link (sspr_report_tokens), stored
// as the SHA-256 of the token, single use.
type reportToken0001 struct {
	TokenHash string     `gorm:"primaryKey;size:64"`
	UserID    string     `gorm:"size:64;index;not null"`
	Event     string     `gorm:"size:32;not null"`
	CreatedAt time.Time  `gorm:"precision:6;not null"`
	ExpiresAt time.Time  `gorm:"precision:6;index;not null"`
	UsedAt    *time.Time `gorm:"precision:6"`
}

func (reportToken0001) TableName() string { return "sspr_report_tokens" }

// userState0001 is per-user SSPR state (sspr_user_state): skipped forced
// registrations and the last reconfirmation of the methods.
type userState0001 struct {
	UserID        string     `gorm:"primaryKey;size:64"`
	Skips         int        `gorm:"not null"`
	ReconfirmedAt *time.Time `gorm:"precision:6"`
	UpdatedAt     time.Time  `gorm:"precision:6;not null"`
}

func (userState0001) TableName() string { return "sspr_user_state" }

func flows0001() *db.Migration {
	return &db.Migration{
		ID: "0001_sspr_flows",
		Migrate: func(tx *gorm.DB) error {
			return db.CreateTables(tx, &policy0001{}, &flow0001{}, &failure0001{}, &reportToken0001{}, &userState0001{})
		},
	}
}
