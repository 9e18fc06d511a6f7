package schema

import (
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// proofTry0006 is sspr_proof_tries: the tries spent on the challenge a flow
// has out. One row per flow; a new challenge starts it at zero again, a
// resend keeps it. plugin/proof claims a try with one conditional UPDATE
// before any answer is judged.
type proofTry0006 struct {
	FlowID      string    `gorm:"primaryKey;size:32"`
	ChallengeID string    `gorm:"size:64;not null"`
	Tries       int       `gorm:"not null"`
	ExpiresAt   time.Time `gorm:"precision:6;index;not null"`
}

func (proofTry0006) TableName() string { return "sspr_proof_tries" }

// proofTries0006 adds the per-challenge try counter of every method.
func proofTries0006() *db.Migration {
	return &db.Migration{
		ID: "0006_proof_tries",
		Migrate: func(tx *gorm.DB) error {
			return db.CreateTables(tx, &proofTry0006{})
		},
	}
}
