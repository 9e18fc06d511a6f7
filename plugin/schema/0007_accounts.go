package schema

import (
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// userState0007 adds to sspr_user_state what the account has been
// through: whether it ever had a method (a method added later cools down,
// whatever was deleted since), the session that registered its very first
// method, and a "This wasn't me" report that recovery refuses until an
// administrator clears it.
type userState0007 struct {
	UserID         string     `gorm:"primaryKey;size:64"`
	Skips          int        `gorm:"not null"`
	ReconfirmedAt  *time.Time `gorm:"precision:6"`
	UpdatedAt      time.Time  `gorm:"precision:6;not null"`
	HadMethods     bool       `gorm:"not null;default:false"`
	FirstSessionID string     `gorm:"size:64;not null;default:''"`
	ReportedAt     *time.Time `gorm:"precision:6"`
}

func (userState0007) TableName() string { return "sspr_user_state" }

// reportToken0007 adds the recipient to sspr_report_tokens: every address
// gets a link of its own, so the audit says which address reported and a
// link sent to one address is not another's.
type reportToken0007 struct {
	TokenHash string     `gorm:"primaryKey;size:64"`
	UserID    string     `gorm:"size:64;index;not null"`
	Event     string     `gorm:"size:32;not null"`
	Recipient string     `gorm:"size:200;not null;default:''"`
	CreatedAt time.Time  `gorm:"precision:6;not null"`
	ExpiresAt time.Time  `gorm:"precision:6;index;not null"`
	UsedAt    *time.Time `gorm:"precision:6"`
}

func (reportToken0007) TableName() string { return "sspr_report_tokens" }

// accounts0007 adds the columns and marks every user who holds a method
// today as having had methods.
func accounts0007() *db.Migration {
	return &db.Migration{
		ID: "0007_sspr_accounts",
		Migrate: func(tx *gorm.DB) error {
			m := db.Tables(tx).Migrator()
			for _, col := range []string{"HadMethods", "FirstSessionID", "ReportedAt"} {
				if err := m.AddColumn(&userState0007{}, col); err != nil {
					return fmt.Errorf("sspr_user_state.%s: %w", col, err)
				}
			}
			if err := m.AddColumn(&reportToken0007{}, "Recipient"); err != nil {
				return fmt.Errorf("sspr_report_tokens.recipient: %w", err)
			}
			// Who holds a method now, and, where the provider's audit log
			// sits in the same database, who added or removed one before
			// (an account whose methods were all deleted still had some).
			owners := []string{"SELECT user_id FROM sspr_methods"}
			if m.HasTable("audit_events") {
				owners = append(owners, "SELECT user_id FROM audit_events WHERE user_id <> 'unknown' AND type IN ('method.added', 'method.removed', 'admin.method.add', 'admin.method.remove')")
			}
			now := time.Now().UTC()
			for _, q := range owners {
				if err := tx.Exec(`INSERT INTO sspr_user_state (user_id, skips, updated_at, had_methods, first_session_id)
					SELECT DISTINCT o.user_id, 0, ?, ?, '' FROM (`+q+`) o
					WHERE NOT EXISTS (SELECT 1 FROM sspr_user_state s WHERE s.user_id = o.user_id)`, now, true).Error; err != nil {
					return fmt.Errorf("sspr_user_state: backfill: %w", err)
				}
				if err := tx.Exec(`UPDATE sspr_user_state SET had_methods = ? WHERE user_id IN (SELECT user_id FROM (`+q+`) o)`, true).Error; err != nil {
					return fmt.Errorf("sspr_user_state: backfill: %w", err)
				}
			}
			return nil
		},
	}
}
