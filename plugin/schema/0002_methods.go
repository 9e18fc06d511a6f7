package schema

import (
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// The tables of plugin/method, plugin/sender, plugin/captcha and
// plugin/ratelimit (owner H5), frozen as first shipped.

// method0002 is sspr_methods: one registered, proven method of a user.
// Data is sealed by the method (secret.Box, aad = id); DestinationKey is an
// HMAC of the normalised destination, never the address itself; one user
// cannot hold the same method and destination twice (the unique index also
// stops two concurrent registrations).
type method0002 struct {
	ID             string     `gorm:"primaryKey;size:32"`
	UserID         string     `gorm:"size:64;not null;uniqueIndex:idx_sspr_methods_dest,priority:1"`
	Method         string     `gorm:"size:32;not null;uniqueIndex:idx_sspr_methods_dest,priority:2"`
	Label          string     `gorm:"size:200;not null"`
	DestinationKey string     `gorm:"size:64;not null;uniqueIndex:idx_sspr_methods_dest,priority:3"`
	Data           []byte     `gorm:"type:blob"`
	Counter        int64      `gorm:"not null"`
	CreatedAt      time.Time  `gorm:"precision:6;not null"`
	UsableAt       time.Time  `gorm:"precision:6;not null"`
	VerifiedAt     time.Time  `gorm:"precision:6;not null"`
	LastUsedAt     *time.Time `gorm:"precision:6"`
}

func (method0002) TableName() string { return "sspr_methods" }

// challenge0002 is sspr_challenges: a one-time code, stored only as
// HMAC(challenge id, code).
type challenge0002 struct {
	ID           string     `gorm:"primaryKey;size:32"`
	FlowID       string     `gorm:"size:64;not null;index"`
	UserID       string     `gorm:"size:64;not null;index"`
	EnrollmentID string     `gorm:"size:64;not null"`
	CodeMAC      []byte     `gorm:"type:blob;not null"`
	Tries        int        `gorm:"not null"`
	Sends        int        `gorm:"not null"`
	CreatedAt    time.Time  `gorm:"precision:6;not null"`
	ExpiresAt    time.Time  `gorm:"precision:6;not null;index"`
	UsedAt       *time.Time `gorm:"precision:6"`
}

func (challenge0002) TableName() string { return "sspr_challenges" }

// customQuestion0002 is sspr_custom_questions: admin-defined security
// questions (at most 20).
type customQuestion0002 struct {
	ID        string    `gorm:"primaryKey;size:32"`
	Text      string    `gorm:"size:400;not null"`
	CreatedAt time.Time `gorm:"precision:6;not null"`
}

func (customQuestion0002) TableName() string { return "sspr_custom_questions" }

// questionAsk0002 is sspr_question_asks: the subset of a user's questions
// asked at recovery, kept until answered correctly.
type questionAsk0002 struct {
	EnrollmentID string    `gorm:"primaryKey;size:32"`
	UserID       string    `gorm:"size:64;not null;index"`
	QuestionIDs  string    `gorm:"size:400;not null"`
	CreatedAt    time.Time `gorm:"precision:6;not null"`
}

func (questionAsk0002) TableName() string { return "sspr_question_asks" }

// outbox0002 is sspr_outbox: queued messages, sealed (secret.Box
// "outbox", aad = id); the body is erased once sent.
type outbox0002 struct {
	ID        string     `gorm:"primaryKey;size:32"`
	Channel   string     `gorm:"size:16;not null"`
	Kind      string     `gorm:"size:32;not null"`
	Body      []byte     `gorm:"type:blob"`
	Attempts  int        `gorm:"not null"`
	NextAt    time.Time  `gorm:"precision:6;not null;index"`
	ClaimedBy string     `gorm:"size:32;not null"`
	ClaimedAt *time.Time `gorm:"precision:6"`
	CreatedAt time.Time  `gorm:"precision:6;not null"`
	SentAt    *time.Time `gorm:"precision:6;index"`
	LastError string     `gorm:"size:200;not null"`
}

func (outbox0002) TableName() string { return "sspr_outbox" }

// captcha0002 is sspr_captchas: builtin CAPTCHA state, single use, bound
// to one form instance.
type captcha0002 struct {
	ID        string     `gorm:"primaryKey;size:32"`
	FormID    string     `gorm:"size:64;not null"`
	Digits    []byte     `gorm:"type:blob;not null"`
	CreatedAt time.Time  `gorm:"precision:6;not null"`
	ExpiresAt time.Time  `gorm:"precision:6;not null;index"`
	UsedAt    *time.Time `gorm:"precision:6"`
}

func (captcha0002) TableName() string { return "sspr_captchas" }

// ratelimit0002 is sspr_ratelimits: one bucket of a sliding window.
type ratelimit0002 struct {
	Scope     string    `gorm:"primaryKey;size:64"`
	KeyHash   string    `gorm:"primaryKey;size:64"`
	WindowMS  int64     `gorm:"primaryKey;autoIncrement:false"`
	Bucket    int64     `gorm:"primaryKey;autoIncrement:false"`
	Count     int       `gorm:"not null"`
	ExpiresAt time.Time `gorm:"precision:6;not null;index"`
}

func (ratelimit0002) TableName() string { return "sspr_ratelimits" }

// methods0002 creates the tables of methods, messages, CAPTCHAs and rate
// limits.
func methods0002() *db.Migration {
	return &db.Migration{
		ID: "0002_sspr_methods",
		Migrate: func(tx *gorm.DB) error {
			return db.CreateTables(tx, &method0002{}, &challenge0002{}, &customQuestion0002{}, &questionAsk0002{},
				&outbox0002{}, &captcha0002{}, &ratelimit0002{})
		},
	}
}
