package schema

import (
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// pushSubscription0005 is push_subscriptions: the Web Push subscription of
// a browser authenticator (endpoint and keys, sealed: the endpoint is a
// capability URL of the browser vendor's push service).
type pushSubscription0005 struct {
	DeviceID  string    `gorm:"primaryKey;size:32"`
	Data      []byte    `gorm:"type:blob;not null"`
	CreatedAt time.Time `gorm:"precision:6;not null"`
}

func (pushSubscription0005) TableName() string { return "push_subscriptions" }

// pushWebPush0005 adds Web Push subscriptions (H8).
func pushWebPush0005() *db.Migration {
	return &db.Migration{
		ID: "0005_push_webpush",
		Migrate: func(tx *gorm.DB) error {
			return db.CreateTables(tx, &pushSubscription0005{})
		},
	}
}
