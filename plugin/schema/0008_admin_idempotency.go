package schema

import (
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// adminIdempotency0008 remembers the admin API's writes by Idempotency-Key:
// the key is claimed (a pending row) before the work starts, so parallel
// requests with one key do the work once; the response is stored when the
// work ends and replayed for 24 hours. KeyHash is a hash of the caller
// and the key, RequestHash one of the method, path and body.
type adminIdempotency0008 struct {
	KeyHash     string    `gorm:"primaryKey;size:64"`
	RequestHash string    `gorm:"size:64;not null"`
	Status      int       `gorm:"not null"` // 0 while the work runs
	ContentType string    `gorm:"size:100;not null;default:''"`
	Location    string    `gorm:"size:500;not null;default:''"`
	Body        []byte    `gorm:"type:blob"`
	CreatedAt   time.Time `gorm:"precision:6;not null;index"`
}

func (adminIdempotency0008) TableName() string { return "admin_idempotency_keys" }

func adminIdempotency0008m() *db.Migration {
	return &db.Migration{
		ID: "0008_admin_idempotency",
		Migrate: func(tx *gorm.DB) error {
			return db.Tables(tx).Migrator().CreateTable(&adminIdempotency0008{})
		},
	}
}
