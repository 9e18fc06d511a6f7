package user

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// ErrSetupLink is the one answer for a setup link that is unknown,
// expired, already used or replaced by a newer one: the page that redeems
// it says the same in every case.
var ErrSetupLink = errors.New("user: setup link is invalid, expired or already used")

// ErrNoKeyring: setup links are keyed hashes and need WithKeyring.
var ErrNoKeyring = errors.New("user: setup links need the secret keyring")

// DefaultSetupTTL is how long a setup link works when the caller does not say.
const DefaultSetupTTL = 72 * time.Hour

// setupPurpose is the keyring purpose of setup-link hashes.
const setupPurpose = "user.setup-link"

// setupToken is one row of user_setup_tokens (migration 0011).
type setupToken struct {
	TokenHash string     `gorm:"primaryKey;size:64"`
	UserID    string     `gorm:"size:26;not null"`
	CreatedAt time.Time  `gorm:"precision:6;not null"`
	ExpiresAt time.Time  `gorm:"precision:6;not null"`
	UsedAt    *time.Time `gorm:"precision:6"`
}

func (setupToken) TableName() string { return "user_setup_tokens" }

// IssueSetupLink makes a one-time token with which the user can set a
// password without knowing one (an administrator's "send a setup link").
// Only its keyed hash is stored; the token itself is returned once, for
// the link. Issuing revokes every earlier unused link of the user, so
// only the newest works. ttl <= 0 means DefaultSetupTTL.
func (s *Store) IssueSetupLink(ctx context.Context, id string, ttl time.Duration) (token string, expires time.Time, err error) {
	if s.keys == nil {
		return "", time.Time{}, wrap("issue setup link", ErrNoKeyring)
	}
	if ttl <= 0 {
		ttl = DefaultSetupTTL
	}
	token = rand.Text() + rand.Text() // 260 bits
	now := s.now()
	row := setupToken{TokenHash: hex.EncodeToString(s.keys.MAC(setupPurpose, token)), UserID: id,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}
	err = db.Transact(ctx, s.db(ctx), "user.issue_setup_link", func(tx *gorm.DB) error {
		if err := exists(tx, id); err != nil {
			return err
		}
		if err := revokeSetupLinks(tx, id, now); err != nil {
			return err
		}
		return tx.Create(&row).Error
	})
	if err != nil {
		return "", time.Time{}, wrap("issue setup link", err)
	}
	return token, row.ExpiresAt, nil
}

// RedeemSetupLink uses token up: the one call that finds it unused and
// unexpired gets its user's ID, every later or concurrent one
// ErrSetupLink. The claim is one conditional UPDATE, so two browsers
// racing with the same link cannot both win.
func (s *Store) RedeemSetupLink(ctx context.Context, token string) (string, error) {
	hashes, err := s.setupHashes(token)
	if err != nil {
		return "", wrap("redeem setup link", err)
	}
	now := s.now()
	var userID string
	err = db.Transact(ctx, s.db(ctx), "user.redeem_setup_link", func(tx *gorm.DB) error {
		res := tx.Model(&setupToken{}).Where("token_hash IN ? AND used_at IS NULL AND expires_at > ?", hashes, now).
			Update("used_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrSetupLink
		}
		var row setupToken
		if err := tx.Where("token_hash IN ?", hashes).Take(&row).Error; err != nil {
			return err
		}
		userID = row.UserID
		return exists(tx, userID)
	})
	if errors.Is(err, ErrNotFound) {
		err = ErrSetupLink // the user was deleted since
	}
	if err != nil {
		return "", wrap("redeem setup link", err)
	}
	return userID, nil
}

// SetupLinkUser returns the user a still usable token belongs to, using
// nothing up: the page a link opens shows its form with it (a mail
// scanner that follows the link must not burn it). ErrSetupLink otherwise.
func (s *Store) SetupLinkUser(ctx context.Context, token string) (string, error) {
	hashes, err := s.setupHashes(token)
	if err != nil {
		return "", wrap("setup link user", err)
	}
	var row setupToken
	err = s.db(ctx).Where("token_hash IN ? AND used_at IS NULL AND expires_at > ?", hashes, s.now()).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		err = ErrSetupLink
	}
	if err != nil {
		return "", wrap("setup link user", err)
	}
	return row.UserID, nil
}

// RedeemSetupLinkTx is RedeemSetupLink inside the caller's transaction,
// so the link is used up if and only if the password it sets is stored.
func (s *Store) RedeemSetupLinkTx(ctx context.Context, tx *gorm.DB, token string) (string, error) {
	return s.WithTx(tx).RedeemSetupLink(ctx, token)
}

func (s *Store) setupHashes(token string) ([]string, error) {
	if s.keys == nil {
		return nil, ErrNoKeyring
	}
	if token == "" || len(token) > 128 {
		return nil, ErrSetupLink
	}
	var hashes []string
	for _, m := range s.keys.MACs(setupPurpose, token) {
		hashes = append(hashes, hex.EncodeToString(m))
	}
	return hashes, nil
}

// RevokeSetupLinks ends every unused setup link of the user (a password
// set by any path makes them pointless; so does deleting the user).
func (s *Store) RevokeSetupLinks(ctx context.Context, id string) error {
	return wrap0("revoke setup links", revokeSetupLinks(s.db(ctx), id, s.now()))
}

func revokeSetupLinks(tx *gorm.DB, id string, now time.Time) error {
	return tx.Model(&setupToken{}).Where("user_id = ? AND used_at IS NULL", id).Update("used_at", now).Error
}

// CleanupSetupLinks deletes links that expired before before (used and
// revoked ones expire too), at most batch per call, and returns how many
// it deleted.
func (s *Store) CleanupSetupLinks(ctx context.Context, before time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = 500
	}
	var hashes []string
	if err := s.db(ctx).Model(&setupToken{}).Where("expires_at < ?", before).Limit(batch).
		Pluck("token_hash", &hashes).Error; err != nil {
		return 0, wrap("cleanup setup links", err)
	}
	if len(hashes) == 0 {
		return 0, nil
	}
	res := s.db(ctx).Where("token_hash IN ?", hashes).Delete(&setupToken{})
	if res.Error != nil {
		return 0, wrap("cleanup setup links", res.Error)
	}
	return res.RowsAffected, nil
}
