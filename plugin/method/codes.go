package method

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// Code engine defaults (checklist B 8-15).
const (
	CodeDigits     = 8
	CodeTTL        = 10 * time.Minute
	CodeMaxTries   = 5
	codeMACPurpose = "code"
)

// challengeRow is the live model of sspr_challenges (frozen copy:
// plugin/schema). The code itself is never stored: only
// HMAC(challengeID, code) under LATCHKEY_SECRET.
type challengeRow struct {
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

func (challengeRow) TableName() string { return "sspr_challenges" }

// Codes issues and checks one-time codes for the possession methods. Each
// code belongs to one challenge, which belongs to one flow and one user.
type Codes struct {
	g        *gorm.DB
	keys     *secret.Keyring
	now      func() time.Time
	ttl      time.Duration
	maxTries int
}

// CodesOption configures Codes.
type CodesOption func(*Codes)

// WithCodeClock injects the clock (tests).
func WithCodeClock(now func() time.Time) CodesOption { return func(c *Codes) { c.now = now } }

// WithCodeTTL lowers the validity of a code (it can never exceed CodeTTL).
func WithCodeTTL(d time.Duration) CodesOption {
	return func(c *Codes) {
		if d > 0 && d < CodeTTL {
			c.ttl = d
		}
	}
}

// NewCodes returns the engine on g.
func NewCodes(g *gorm.DB, keys *secret.Keyring, opts ...CodesOption) *Codes {
	c := &Codes{g: g, keys: keys, now: func() time.Time { return time.Now().UTC() }, ttl: CodeTTL, maxTries: CodeMaxTries}
	for _, o := range opts {
		o(c)
	}
	return c
}

// TTL is how long a new code stays valid.
func (c *Codes) TTL() time.Duration { return c.ttl }

// ErrDead means a challenge cannot be resent: it is used, dead, unknown or
// belongs to another flow.
var ErrDead = errors.New("method: challenge is no longer valid")

// NewCode returns CodeDigits decimal digits from crypto/rand.
func NewCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
	if err != nil {
		panic(fmt.Sprintf("method: crypto/rand: %v", err)) // crypto/rand does not fail
	}
	return fmt.Sprintf("%08d", n.Int64())
}

func (c *Codes) mac(challengeID, code string) []byte {
	return c.keys.MAC(codeMACPurpose, challengeID, code)
}

// Issue creates a challenge for enrollmentID in flowID and returns its ID,
// the code to deliver and its expiry. Every older open challenge of the
// same user dies in the same transaction: only the newest code a user was
// sent works (checklist 18; Keycloak #40631).
func (c *Codes) Issue(ctx context.Context, flowID, userID, enrollmentID string) (id, code string, expires time.Time, err error) {
	now := c.now().UTC()
	id, code = rand.Text(), NewCode()
	r := challengeRow{ID: id, FlowID: flowID, UserID: userID, EnrollmentID: enrollmentID, CodeMAC: c.mac(id, code),
		Sends: 1, CreatedAt: now, ExpiresAt: now.Add(c.ttl)}
	err = db.Transact(ctx, c.g, "code.issue", func(tx *gorm.DB) error {
		if userID != "" {
			if err := tx.Model(&challengeRow{}).Where("user_id = ? AND used_at IS NULL AND tries < ?", userID, c.maxTries).
				Update("tries", c.maxTries).Error; err != nil {
				return err
			}
		}
		return tx.Create(&r).Error
	})
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("method: issue code: %w", err)
	}
	return id, code, r.ExpiresAt, nil
}

// Reissue replaces the code of a live challenge (a resend): the old code
// stops working, the expiry restarts, and the failure count is kept
// (NIST 800-63B §3.1.3.2: resending SHALL NOT reset it).
func (c *Codes) Reissue(ctx context.Context, challengeID, flowID, userID string) (code string, expires time.Time, err error) {
	now := c.now().UTC()
	code, expires = NewCode(), now.Add(c.ttl)
	res := c.g.WithContext(ctx).Model(&challengeRow{}).
		Where("id = ? AND flow_id = ? AND user_id = ? AND used_at IS NULL AND tries < ?", challengeID, flowID, userID, c.maxTries).
		Updates(map[string]any{"code_mac": c.mac(challengeID, code), "expires_at": expires, "sends": gorm.Expr("sends + 1")})
	if res.Error != nil {
		return "", time.Time{}, fmt.Errorf("method: reissue code: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return "", time.Time{}, ErrDead
	}
	return code, expires, nil
}

// Check verifies code for the challenge in flowID of userID.
//
// One conditional UPDATE both claims one of the challenge's CodeMaxTries
// tries and, if the code's HMAC matches, marks the challenge used. The row
// lock serialises racing checks, so however many requests arrive at once,
// at most CodeMaxTries codes are ever compared (Keycloak CVE-2024-4629) and
// a right code works exactly once. A challenge of another flow or user, an
// expired, used or exhausted one, is Dead.
func (c *Codes) Check(ctx context.Context, challengeID, flowID, userID, code string) (Result, error) {
	now := c.now().UTC()
	code = NormalizeCode(code)
	// During a rotation a code issued under the previous secret still
	// matches (it lives ten minutes; re-hashing would need the code).
	var mac, prev []byte
	if validCode(code) {
		all := c.keys.MACs(codeMACPurpose, challengeID, code)
		mac, prev = all[0], all[len(all)-1]
	} else {
		mac = []byte{} // never equals a stored 32-byte MAC, but still spends a try
		prev = mac
	}
	g := c.g.WithContext(ctx)
	var res *gorm.DB
	err := db.RetryStmt(ctx, g, "code.check", func(g *gorm.DB) error {
		res = g.Model(&challengeRow{}).
			Where("id = ? AND flow_id = ? AND user_id = ? AND used_at IS NULL AND tries < ? AND expires_at > ?",
				challengeID, flowID, userID, c.maxTries, now).
			Updates(map[string]any{
				"tries":   gorm.Expr("tries + 1"),
				"used_at": gorm.Expr("CASE WHEN code_mac = ? OR code_mac = ? THEN ? ELSE NULL END", mac, prev, now),
			})
		return res.Error
	})
	if err != nil {
		return Result{}, fmt.Errorf("method: check code: %w", err)
	}
	if res.RowsAffected != 1 {
		return Result{Dead: true}, nil
	}
	// used_at was NULL before this update and nothing can change a used
	// row, so a set used_at now means this check matched.
	var r challengeRow
	if err := g.Select("tries", "used_at").Where("id = ?", challengeID).Take(&r).Error; err != nil {
		return Result{}, fmt.Errorf("method: check code: %w", err)
	}
	if r.UsedAt != nil {
		return Result{OK: true}, nil
	}
	return Result{Dead: r.Tries >= c.maxTries}, nil
}

// NormalizeCode removes the spaces and dashes people type or paste inside
// a code ("1234 5678", "1234-5678"); anything else is left to fail. Every
// kind of white space goes wherever it stands, so normalizing twice
// changes nothing (trimming first did not: "-\f0").
func NormalizeCode(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '-' {
			return -1
		}
		return r
	}, s)
}

func validCode(s string) bool {
	if len(s) != CodeDigits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// InvalidateUser kills every open challenge of userID (after a reset, a
// password change or a change of the user's addresses: checklist 18).
func (c *Codes) InvalidateUser(tx *gorm.DB, userID string) error {
	if err := tx.Model(&challengeRow{}).Where("user_id = ? AND used_at IS NULL", userID).
		Update("tries", c.maxTries).Error; err != nil {
		return fmt.Errorf("method: invalidate challenges: %w", err)
	}
	return nil
}

// Cleanup deletes challenges that expired before the given time.
func (c *Codes) Cleanup(ctx context.Context, before time.Time) (int64, error) {
	res := c.g.WithContext(ctx).Where("expires_at < ?", before.UTC()).Delete(&challengeRow{})
	if res.Error != nil {
		return 0, fmt.Errorf("method: cleanup challenges: %w", res.Error)
	}
	return res.RowsAffected, nil
}
