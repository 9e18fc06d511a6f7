package session

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// Binding ties an authorization request to the browser that called
// /authorize, by the hash of a random per-browser cookie token. It is
// written when the request is created, so every later step (sign-in page,
// completion, callback) can insist on the same browser: a link forwarded
// to someone else never yields a code, whoever signs in there.
type Binding struct {
	AuthRequestID string    `gorm:"primaryKey;size:64"`
	BrowserHash   string    `gorm:"size:64;not null"`
	ExpiresAt     time.Time `gorm:"precision:6;index;not null"`
	// HoldSession is the session that signed in for the request and was
	// sent to register security methods first: the request stays pending
	// until that registration is done or skipped ("" when not held).
	HoldSession string `gorm:"size:32;not null;default:'';index"`
}

// ErrNotBound means the request has no binding to this browser: none was
// written (fail closed), it expired, or another browser holds it.
var ErrNotBound = errors.New("session: authorization request not bound to this browser")

// TableName fixes the table name shared with the 0004 migration.
func (Binding) TableName() string { return "auth_request_bindings" }

// Bind records that browserToken's browser created authRequestID. It is
// called once, when the request is created; a second binding of the same
// id fails rather than moving the request to another browser.
func (s *Store) Bind(ctx context.Context, authRequestID, browserToken string, ttl time.Duration) error {
	if authRequestID == "" || browserToken == "" {
		return errors.New("session: bind: empty id or token")
	}
	b := Binding{AuthRequestID: authRequestID, BrowserHash: HashToken(browserToken), ExpiresAt: s.clock().Add(ttl)}
	if err := s.g.WithContext(ctx).Create(&b).Error; err != nil {
		return fmt.Errorf("session: bind: %w", err)
	}
	return nil
}

// Binding returns authRequestID's binding when browserToken's browser
// holds it, else ErrNotBound (also when no binding was ever written).
func (s *Store) Binding(ctx context.Context, authRequestID, browserToken string) (*Binding, error) {
	if authRequestID == "" || browserToken == "" {
		return nil, ErrNotBound
	}
	var b Binding
	err := s.g.WithContext(ctx).Where("auth_request_id = ? AND expires_at > ?", authRequestID, s.clock()).Take(&b).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotBound
	}
	if err != nil {
		return nil, fmt.Errorf("session: binding: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(b.BrowserHash), []byte(HashToken(browserToken))) != 1 {
		return nil, ErrNotBound
	}
	return &b, nil
}

// Bound reports whether authRequestID is bound to browserToken's browser.
func (s *Store) Bound(ctx context.Context, authRequestID, browserToken string) (bool, error) {
	_, err := s.Binding(ctx, authRequestID, browserToken)
	if errors.Is(err, ErrNotBound) {
		return false, nil
	}
	return err == nil, err
}

// Unbind deletes authRequestID's binding, so the request can never
// complete: used when it turns up in another browser (a forwarded link).
func (s *Store) Unbind(ctx context.Context, authRequestID string) error {
	if err := s.g.WithContext(ctx).Where("auth_request_id = ?", authRequestID).Delete(&Binding{}).Error; err != nil {
		return fmt.Errorf("session: unbind: %w", err)
	}
	return nil
}

// Hold marks authRequestID as waiting for sessionID's security-method
// registration ("" releases it).
func (s *Store) Hold(ctx context.Context, authRequestID, sessionID string) error {
	err := db.RetryStmt(ctx, s.g.WithContext(ctx), "session.hold", func(g *gorm.DB) error {
		return g.Model(&Binding{}).Where("auth_request_id = ? AND expires_at > ?", authRequestID, s.clock()).
			Update("hold_session", sessionID).Error
	})
	// RowsAffected is not checked: MySQL counts only changed rows, and
	// the caller has just read the binding.
	if err != nil {
		return fmt.Errorf("session: hold: %w", err)
	}
	return nil
}

// Release ends every hold of sessionID: its registration is done or
// skipped, so the requests it holds may complete (on their next visit).
func (s *Store) Release(ctx context.Context, sessionID string) error {
	if sessionID == "" {
		return nil
	}
	if err := db.RetryStmt(ctx, s.g.WithContext(ctx), "session.release", func(g *gorm.DB) error {
		return g.Model(&Binding{}).Where("hold_session = ?", sessionID).Update("hold_session", "").Error
	}); err != nil {
		return fmt.Errorf("session: release: %w", err)
	}
	return nil
}

// SessionHeld reports whether sessionID was sent to register methods for
// a request that is still held: until the registration is done or
// skipped, that session must not answer new requests silently either.
func (s *Store) SessionHeld(ctx context.Context, sessionID string) (bool, error) {
	if sessionID == "" {
		return false, nil
	}
	var n int64
	err := s.g.WithContext(ctx).Model(&Binding{}).Where("hold_session = ? AND expires_at > ?", sessionID, s.clock()).
		Limit(1).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("session: held: %w", err)
	}
	return n > 0, nil
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
