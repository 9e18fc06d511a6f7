package schema

import (
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// usersLocale0009 adds two columns to users.
//
// locale is the BCP 47 tag of the language the user last used the pages
// in ("" when never recorded), so what is sent without a request (an
// administrator's change, a notice to the other administrators) is in
// their language.
//
// signed_out_at is the cut-off of the user's last "sign out everywhere":
// a grant signed in before it is refused. It used to be the password's
// change time, and is that for every change that signs out; a change of
// password that keeps the other sessions (the user's choice on Security
// info) moves password_changed_at only. NULL reads as
// password_changed_at, and existing rows start from it.
type usersLocale0009 struct {
	ID          string     `gorm:"primaryKey;size:26"`
	Locale      string     `gorm:"size:35;not null;default:''"`
	SignedOutAt *time.Time `gorm:"precision:6"`
}

func (usersLocale0009) TableName() string { return "users" }

// userLocale0009 adds users.locale and users.signed_out_at.
func userLocale0009() *db.Migration {
	return &db.Migration{
		ID: "0009_user_locale",
		Migrate: func(tx *gorm.DB) error {
			m := db.Tables(tx).Migrator()
			for _, col := range []string{"Locale", "SignedOutAt"} {
				if err := m.AddColumn(&usersLocale0009{}, col); err != nil {
					return err
				}
			}
			return tx.Exec("UPDATE users SET signed_out_at = password_changed_at").Error
		},
	}
}
