package session

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Binding ties a pending authorization request to the browser that first
// opened its sign-in page, by the hash of a random per-browser cookie token.
// Finishing a request from elsewhere (a recovery link opened on another
// device) then signs that browser in without handing it the code.
type Binding struct {
	AuthRequestID string    `gorm:"primaryKey;size:64"`
	BrowserHash   string    `gorm:"size:64;not null"`
	ExpiresAt     time.Time `gorm:"precision:6;index;not null"`
}

// TableName fixes the table name shared with the 0004 migration.
func (Binding) TableName() string { return "auth_request_bindings" }

// Bind records that browserToken's browser opened authRequestID, unless
// another browser already did: the first visitor is the browser the OP
// redirected there, and a later visitor cannot take the request over.
func (s *Store) Bind(ctx context.Context, authRequestID, browserToken string, ttl time.Duration) error {
	if authRequestID == "" || browserToken == "" {
		return errors.New("session: bind: empty id or token")
	}
	b := Binding{AuthRequestID: authRequestID, BrowserHash: HashToken(browserToken), ExpiresAt: s.clock().Add(ttl)}
	err := s.g.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&b).Error
	if err != nil {
		return fmt.Errorf("session: bind: %w", err)
	}
	return nil
}

// Bound reports whether authRequestID is bound to browserToken's browser.
func (s *Store) Bound(ctx context.Context, authRequestID, browserToken string) (bool, error) {
	if authRequestID == "" || browserToken == "" {
		return false, nil
	}
	var b Binding
	err := s.g.WithContext(ctx).Where("auth_request_id = ? AND expires_at > ?", authRequestID, s.clock()).Take(&b).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("session: bound: %w", err)
	}
	return subtle.ConstantTimeCompare([]byte(b.BrowserHash), []byte(HashToken(browserToken))) == 1, nil
}

// CleanupBindings deletes expired bindings (at most batch per call).
func (s *Store) CleanupBindings(ctx context.Context, batch int) (int64, error) {
	if batch <= 0 {
		batch = 500
	}
	var ids []string
	if err := s.g.WithContext(ctx).Model(&Binding{}).Where("expires_at < ?", s.clock()).
		Limit(batch).Pluck("auth_request_id", &ids).Error; err != nil {
		return 0, fmt.Errorf("session: cleanup bindings: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	res := s.g.WithContext(ctx).Where("auth_request_id IN ?", ids).Delete(&Binding{})
	if res.Error != nil {
		return 0, fmt.Errorf("session: cleanup bindings: %w", res.Error)
	}
	return res.RowsAffected, nil
}
