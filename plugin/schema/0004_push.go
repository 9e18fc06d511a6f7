package schema

import (
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// The tables of plugin/method/push (owner H8), frozen as first shipped.

// pushLink0004 is push_links: a one-time enrollment link (QR code), found
// by the HMAC of its token, never the token itself.
type pushLink0004 struct {
	KeyHash   string     `gorm:"primaryKey;size:64"`
	FlowID    string     `gorm:"size:64;not null"`
	UserID    string     `gorm:"size:64;not null;index"`
	Account   string     `gorm:"size:200;not null"`
	DeviceID  string     `gorm:"size:32;not null"`
	CreatedAt time.Time  `gorm:"precision:6;not null"`
	ExpiresAt time.Time  `gorm:"precision:6;not null;index"`
	UsedAt    *time.Time `gorm:"precision:6"`
}

func (pushLink0004) TableName() string { return "push_links" }

// pushDevice0004 is push_devices: an enrolled authenticator and its P-256
// public key (JWK). The private key never left the device.
type pushDevice0004 struct {
	ID         string     `gorm:"primaryKey;size:32"`
	UserID     string     `gorm:"size:64;not null;index"`
	Name       string     `gorm:"size:100;not null"`
	PublicKey  []byte     `gorm:"type:blob;not null"`
	CreatedAt  time.Time  `gorm:"precision:6;not null"`
	LastSeenAt *time.Time `gorm:"precision:6"`
}

func (pushDevice0004) TableName() string { return "push_devices" }

// pushChallenge0004 is push_challenges: one push. The number shown on the
// page is kept only as an HMAC.
type pushChallenge0004 struct {
	ID        string     `gorm:"primaryKey;size:32"`
	FlowID    string     `gorm:"size:64;not null;index"`
	UserID    string     `gorm:"size:64;not null;index:idx_push_challenges_user,priority:1"`
	DeviceID  string     `gorm:"size:32;not null;index"`
	NumberMAC []byte     `gorm:"type:blob;not null"`
	App       string     `gorm:"size:200;not null"`
	IP        string     `gorm:"size:64;not null"`
	Place     string     `gorm:"size:200;not null"`
	Status    string     `gorm:"size:16;not null"`
	CreatedAt time.Time  `gorm:"precision:6;not null;index:idx_push_challenges_user,priority:2"`
	ExpiresAt time.Time  `gorm:"precision:6;not null;index"`
	DecidedAt *time.Time `gorm:"precision:6"`
	UsedAt    *time.Time `gorm:"precision:6"`
}

func (pushChallenge0004) TableName() string { return "push_challenges" }

// pushAccount0004 is push_accounts: per-user push state, locked while a
// push is issued so concurrent requests cannot pass the limits together.
type pushAccount0004 struct {
	UserID        string     `gorm:"primaryKey;size:64"`
	BlockedUntil  *time.Time `gorm:"precision:6"`
	LastSuccessAt *time.Time `gorm:"precision:6"`
}

func (pushAccount0004) TableName() string { return "push_accounts" }

// pushNonce0004 is push_nonces: device-token IDs already seen (replay
// protection), kept until the token would have expired anyway.
type pushNonce0004 struct {
	Key       string    `gorm:"primaryKey;size:64"`
	ExpiresAt time.Time `gorm:"precision:6;not null;index"`
}

func (pushNonce0004) TableName() string { return "push_nonces" }

// push0004 creates the push tables.
func push0004() *db.Migration {
	return &db.Migration{
		ID: "0004_push",
		Migrate: func(tx *gorm.DB) error {
			return db.CreateTables(tx, &pushLink0004{}, &pushDevice0004{}, &pushChallenge0004{}, &pushAccount0004{}, &pushNonce0004{})
		},
	}
}
