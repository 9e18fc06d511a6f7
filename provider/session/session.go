package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/db"
)

// ErrNotFound means the token names no live session: unknown, expired or
// revoked. Callers treat all three alike (show the sign-in form).
var ErrNotFound = errors.New("session: not found")

// DefaultTTL is how long a browser stays signed in without signing in again.
const DefaultTTL = 12 * time.Hour

// touchEvery limits last_seen_at writes: the lookup stays a single read on
// the hot path and only every few minutes adds one small UPDATE.
const touchEvery = 5 * time.Minute

// Session is one signed-in browser.
type Session struct {
	ID         string
	UserID     string
	AuthTime   time.Time // when the user last proved who they are
	AMR        []string  // RFC 8176 methods of that proof, e.g. ["pwd"]
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// Row is the user_sessions table as the store reads and writes it.
type Row struct {
	ID         string     `gorm:"primaryKey;size:32"`
	TokenHash  string     `gorm:"size:64;uniqueIndex;not null"`
	UserID     string     `gorm:"size:64;index;not null"`
	AuthTime   time.Time  `gorm:"precision:6;not null"`
	AMR        []string   `gorm:"serializer:json;type:text"`
	CreatedAt  time.Time  `gorm:"precision:6;not null"`
	LastSeenAt time.Time  `gorm:"precision:6;not null"`
	ExpiresAt  time.Time  `gorm:"precision:6;index;not null"`
	RevokedAt  *time.Time `gorm:"precision:6"`
}

// TableName fixes the table name shared with the 0004 migration.
func (Row) TableName() string { return "user_sessions" }

// Store reads and writes sessions. It is safe for concurrent use.
type Store struct {
	g   *gorm.DB
	now func() time.Time
	ttl time.Duration
}

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now (tests move time instead of sleeping).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithTTL sets the absolute session lifetime (default DefaultTTL).
func WithTTL(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.ttl = d
		}
	}
}

// NewStore returns a store on g.
func NewStore(g *gorm.DB, opts ...Option) *Store {
	s := &Store{g: g, now: time.Now, ttl: DefaultTTL}
	for _, o := range opts {
		o(s)
	}
	return s
}

// TTL is the absolute lifetime of new sessions (for the cookie's Max-Age).
func (s *Store) TTL() time.Duration { return s.ttl }

func (s *Store) clock() time.Time { return s.now().UTC() }

// HashToken returns the hex SHA-256 under which a cookie token is stored.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Create starts a session for userID and returns it with the raw cookie
// token. Every call makes a new ID and token, whatever the browser sent
// before, so a session ID planted before sign-in is never promoted
// (session fixation). tx may be nil; pass the caller's transaction to make
// the session part of a larger atomic change (for example a password reset).
func (s *Store) Create(ctx context.Context, tx *gorm.DB, userID string, amr []string, authTime time.Time) (*Session, string, error) {
	if userID == "" {
		return nil, "", errors.New("session: create: empty user id")
	}
	if tx == nil {
		tx = s.g
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, "", fmt.Errorf("session: create: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.clock()
	if authTime.IsZero() {
		authTime = now
	}
	r := Row{
		ID:         rand.Text(),
		TokenHash:  HashToken(token),
		UserID:     userID,
		AuthTime:   authTime.UTC(),
		AMR:        append([]string(nil), amr...),
		CreatedAt:  now,
		LastSeenAt: now,
		ExpiresAt:  now.Add(s.ttl),
	}
	if err := tx.WithContext(ctx).Create(&r).Error; err != nil {
		return nil, "", fmt.Errorf("session: create: %w", err)
	}
	return r.session(), token, nil
}

// Lookup returns the live session for a cookie token: one read through the
// unique token_hash index. Expired and revoked sessions are ErrNotFound.
func (s *Store) Lookup(ctx context.Context, token string) (*Session, error) {
	if token == "" || len(token) > 128 {
		return nil, ErrNotFound
	}
	now := s.clock()
	var r Row
	err := s.g.WithContext(ctx).
		Where("token_hash = ? AND revoked_at IS NULL AND expires_at > ?", HashToken(token), now).
		Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("session: lookup: %w", err)
	}
	if now.Sub(r.LastSeenAt) > touchEvery {
		// Best effort: last_seen_at is informational (account page, audit),
		// so a failed write must not sign the user out.
		s.g.WithContext(ctx).Model(&Row{}).Where("id = ?", r.ID).Update("last_seen_at", now)
		r.LastSeenAt = now
	}
	return r.session(), nil
}

// Get returns a live session by ID (not by token).
func (s *Store) Get(ctx context.Context, id string) (*Session, error) {
	var r Row
	err := s.g.WithContext(ctx).
		Where("id = ? AND revoked_at IS NULL AND expires_at > ?", id, s.clock()).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("session: get: %w", err)
	}
	return r.session(), nil
}

// Revoke ends one session (logout). Revoking an unknown or already revoked
// session is not an error: logout must always succeed.
func (s *Store) Revoke(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	err := db.RetryStmt(ctx, s.g.WithContext(ctx), "session.revoke", func(g *gorm.DB) error {
		return g.Model(&Row{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", s.clock()).Error
	})
	if err != nil {
		return fmt.Errorf("session: revoke: %w", err)
	}
	return nil
}

// RevokeUser ends every browser session of userID (account.Revoker):
// a password reset, a report or an administrator's sign-out leave no
// browser signed in, whatever the cut-off, since none may have been
// created with the old state. Tokens are their issuer's to revoke.
//
// keep.Session, the browser in which the user just changed their
// password, stays; its owner proved the password there, so its auth_time
// becomes the cut-off and the provider's "signed in before the cut-off"
// check lets it through.
func (s *Store) RevokeUser(ctx context.Context, tx *gorm.DB, userID string, before time.Time, keep account.Keep) error {
	if tx == nil {
		tx = s.g
	}
	if userID == "" {
		return errors.New("session: revoke user: empty user id")
	}
	tx = tx.WithContext(ctx)
	q := tx.Model(&Row{}).Where("user_id = ? AND revoked_at IS NULL", userID)
	if keep.Session != "" {
		q = q.Where("id <> ?", keep.Session)
	}
	if err := q.Update("revoked_at", s.clock()).Error; err != nil {
		return fmt.Errorf("session: revoke user sessions: %w", err)
	}
	if keep.Session != "" {
		err := tx.Model(&Row{}).Where("id = ? AND user_id = ? AND revoked_at IS NULL", keep.Session, userID).
			Update("auth_time", before.UTC()).Error
		if err != nil {
			return fmt.Errorf("session: renew kept session: %w", err)
		}
	}
	return nil
}

// Live reports whether session id exists, is not revoked and has not
// expired (the OP storage asks before it issues or redeems a code).
func (s *Store) Live(ctx context.Context, id string) (bool, error) {
	_, err := s.Get(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// Cleanup deletes sessions that expired or were revoked more than a day
// ago, at most batch rows per call, and returns how many it deleted. It is
// idempotent, so every instance may run it.
func (s *Store) Cleanup(ctx context.Context, batch int) (int64, error) {
	if batch <= 0 {
		batch = 500
	}
	cutoff := s.clock().Add(-24 * time.Hour)
	var ids []string
	// Select then delete by id: MySQL refuses LIMIT inside IN (subquery).
	err := s.g.WithContext(ctx).Model(&Row{}).
		Where("expires_at < ? OR revoked_at < ?", cutoff, cutoff).
		Limit(batch).Pluck("id", &ids).Error
	if err != nil || len(ids) == 0 {
		if err != nil {
			return 0, fmt.Errorf("session: cleanup: %w", err)
		}
		return 0, nil
	}
	res := s.g.WithContext(ctx).Where("id IN ?", ids).Delete(&Row{})
	if res.Error != nil {
		return 0, fmt.Errorf("session: cleanup: %w", res.Error)
	}
	return res.RowsAffected, nil
}

func (r *Row) session() *Session {
	return &Session{
		ID: r.ID, UserID: r.UserID, AuthTime: r.AuthTime.UTC(), AMR: r.AMR,
		CreatedAt: r.CreatedAt.UTC(), LastSeenAt: r.LastSeenAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(),
	}
}

// maxListed bounds ListUser: a user signed in on more browsers than this
// is shown the newest ones (sign-out everywhere ends them all anyway).
const maxListed = 200

// ListUser returns the live sessions of userID, newest first (what an
// administrator sees before signing the user out everywhere).
func (s *Store) ListUser(ctx context.Context, userID string) ([]Session, error) {
	var rows []Row
	err := s.g.WithContext(ctx).Where("user_id = ? AND revoked_at IS NULL AND expires_at > ?", userID, s.clock()).
		Order("created_at DESC").Limit(maxListed).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("session: list user: %w", err)
	}
	out := make([]Session, len(rows))
	for i := range rows {
		out[i] = *rows[i].session()
	}
	return out, nil
}

// LastSignIn is when userID last signed in on a browser, as far as the
// sessions on record tell (zero when none is left).
func (s *Store) LastSignIn(ctx context.Context, userID string) (time.Time, error) {
	var rows []Row
	err := s.g.WithContext(ctx).Select("auth_time").Where("user_id = ?", userID).
		Order("auth_time DESC").Limit(1).Find(&rows).Error
	if err != nil {
		return time.Time{}, fmt.Errorf("session: last sign-in: %w", err)
	}
	if len(rows) == 0 {
		return time.Time{}, nil
	}
	return rows[0].AuthTime.UTC(), nil
}
