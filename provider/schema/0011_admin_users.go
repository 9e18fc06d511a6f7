package schema

import (
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/user"
)

// userAdmin0011 adds what the administrators' user pages need:
//   - name_key, the display name through user.Normalize, so a search by
//     name is a prefix range on an index as username and email are;
//     (name_key, id) makes the key unique for keyset pages;
//   - must_change_password, set with a temporary password an administrator
//     chose: sign-in sends the user to change it before any token.
type userAdmin0011 struct {
	ID                 string `gorm:"primaryKey;size:26"`
	NameKey            string `gorm:"size:190;not null;default:''"`
	MustChangePassword bool   `gorm:"not null;default:false"`
}

func (userAdmin0011) TableName() string { return "users" }

// userSetupToken0011 is a one-time setup link: the link carries a random
// token, the table only its keyed hash. used_at is set by the one redeem
// that wins; a newer link for the same user revokes the older ones.
type userSetupToken0011 struct {
	TokenHash string     `gorm:"primaryKey;size:64"`
	UserID    string     `gorm:"size:26;not null;index"`
	CreatedAt time.Time  `gorm:"precision:6;not null"`
	ExpiresAt time.Time  `gorm:"precision:6;not null;index"`
	UsedAt    *time.Time `gorm:"precision:6"`
}

func (userSetupToken0011) TableName() string { return "user_setup_tokens" }

// adminUsers0011 adds the columns, fills name_key for existing users in
// batches (walking the primary key, so each batch is one short
// transaction), then indexes it, and creates user_setup_tokens.
func adminUsers0011() *db.Migration {
	return &db.Migration{
		ID: "0011_admin_users",
		Migrate: func(tx *gorm.DB) error {
			m := db.Tables(tx).Migrator()
			for _, col := range []string{"NameKey", "MustChangePassword"} {
				if !m.HasColumn(&userAdmin0011{}, col) {
					if err := m.AddColumn(&userAdmin0011{}, col); err != nil {
						return err
					}
				}
			}
			if err := fillNameKeys0011(tx); err != nil {
				return err
			}
			if !m.HasIndex(&userAdmin0011{}, "idx_users_name_key_id") {
				if err := tx.Exec("CREATE INDEX idx_users_name_key_id ON users (name_key, id)").Error; err != nil {
					return err
				}
			}
			return db.CreateTables(tx, &userSetupToken0011{})
		},
	}
}

func fillNameKeys0011(tx *gorm.DB) error {
	type row struct{ ID, DisplayName string }
	after := ""
	for {
		var rows []row
		if err := tx.Table("users").Select("id, display_name").Where("id > ?", after).
			Order("id").Limit(500).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		// One UPDATE per batch (CASE id WHEN … THEN …): a million users
		// are 2,000 statements, not a million.
		var b strings.Builder
		args := make([]any, 0, 3*len(rows))
		b.WriteString("UPDATE users SET name_key = CASE id")
		for _, r := range rows {
			b.WriteString(" WHEN ? THEN ?")
			args = append(args, r.ID, user.NameKey(r.DisplayName))
		}
		b.WriteString(" END WHERE id IN (?" + strings.Repeat(",?", len(rows)-1) + ")")
		for _, r := range rows {
			args = append(args, r.ID)
		}
		if err := tx.Exec(b.String(), args...).Error; err != nil {
			return err
		}
		after = rows[len(rows)-1].ID
	}
}
