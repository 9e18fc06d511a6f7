package flow

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// row is the stored shape of a Flow (table sspr_flows, see plugin/schema).
type row struct {
	ID            string `gorm:"primaryKey;size:32"`
	BindHash      string `gorm:"size:64"`
	Purpose       string `gorm:"size:16"`
	UserID        string `gorm:"size:64"`
	Subject       string `gorm:"size:80"`
	Decoy         bool
	AuthRequestID string `gorm:"size:190"`
	SessionID     string `gorm:"size:64"`
	Intent        string `gorm:"size:16"`
	State         string `gorm:"size:24"`
	Proofs        string `gorm:"type:text"`
	EnrollmentID  string `gorm:"size:64"`
	ChallengeID   string `gorm:"size:64"`
	Challenge     []byte
	Data          []byte
	Version       int
	CreatedAt     time.Time  `gorm:"precision:6"`
	ExpiresAt     time.Time  `gorm:"precision:6"`
	DoneAt        *time.Time `gorm:"precision:6"`
}

func (row) TableName() string { return "sspr_flows" }

// Store persists flows.
type Store struct {
	g   *gorm.DB
	now func() time.Time
	ttl time.Duration
}

// Option configures a Store.
type Option func(*Store)

// WithClock injects the clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithTTL changes the flow lifetime (default TTL).
func WithTTL(d time.Duration) Option { return func(s *Store) { s.ttl = d } }

// NewStore returns a flow store on g.
func NewStore(g *gorm.DB, opts ...Option) *Store {
	s := &Store{g: g, now: time.Now, ttl: TTL}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Now is the store's clock in UTC.
func (s *Store) Now() time.Time { return s.now().UTC() }

// NewBindToken returns a fresh browser binding token (the cookie value):
// 130 bits from crypto/rand.
func NewBindToken() string { return rand.Text() }

// HashBind is what a flow stores of its binding token.
func HashBind(token string) string {
	sum := sha256.Sum256([]byte("latchkey-flow-bind:" + token))
	return hex.EncodeToString(sum[:])
}

// Create stores f as a new flow bound to bindToken: it fills ID, BindHash,
// timestamps, Version and, when empty, State (Identified for a recovery,
// ChoosingMethod otherwise).
func (s *Store) Create(ctx context.Context, f *Flow, bindToken string) error {
	if bindToken == "" {
		return errors.New("flow: create: empty binding token")
	}
	now := s.Now()
	f.ID = rand.Text()
	f.BindHash = HashBind(bindToken)
	f.CreatedAt, f.ExpiresAt, f.Version = now, now.Add(s.ttl), 1
	if f.State == "" {
		f.State = ChoosingMethod
		if f.Purpose == Recover {
			f.State = Identified
		}
	}
	r, err := toRow(f)
	if err != nil {
		return fmt.Errorf("flow: create: %w", err)
	}
	if err := s.g.WithContext(ctx).Create(&r).Error; err != nil {
		return fmt.Errorf("flow: create: %w", err)
	}
	return nil
}

// Get loads flow id for the browser holding bindToken. A missing flow, a
// wrong or absent binding and a flow of another purpose are all
// ErrNotFound: a flow id alone is worth nothing. An expired flow is
// ErrExpired.
func (s *Store) Get(ctx context.Context, id, bindToken string, purpose Purpose) (*Flow, error) {
	if id == "" || len(id) > 32 || bindToken == "" {
		return nil, ErrNotFound
	}
	var r row
	err := s.g.WithContext(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("flow: get: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(r.BindHash), []byte(HashBind(bindToken))) != 1 || r.Purpose != string(purpose) {
		return nil, ErrNotFound
	}
	f, err := fromRow(&r)
	if err != nil {
		return nil, fmt.Errorf("flow: get: %w", err)
	}
	if !s.Now().Before(f.ExpiresAt) {
		return f, ErrExpired
	}
	return f, nil
}

// Save writes f if nobody changed it since it was read (tx may be nil),
// and bumps its version. A lost race is ErrConflict, so a step runs once.
func (s *Store) Save(ctx context.Context, tx *gorm.DB, f *Flow) error {
	if tx == nil {
		tx = s.g
	}
	r, err := toRow(f)
	if err != nil {
		return fmt.Errorf("flow: save: %w", err)
	}
	// A rerun after a conflict finds the version moved if the other
	// write won, and reports the lost race as ErrConflict.
	var res *gorm.DB
	if err := db.RetryStmt(ctx, tx.WithContext(ctx), "flow.save", func(g *gorm.DB) error {
		res = g.Model(&row{}).Where("id = ? AND version = ?", f.ID, f.Version).Updates(map[string]any{
			"intent": r.Intent, "state": r.State, "proofs": r.Proofs, "enrollment_id": r.EnrollmentID,
			"challenge_id": r.ChallengeID, "challenge": r.Challenge, "data": r.Data,
			"version": f.Version + 1, "done_at": r.DoneAt,
		})
		return res.Error
	}); err != nil {
		return fmt.Errorf("flow: save: %w", err)
	}
	if res.RowsAffected != 1 {
		return ErrConflict
	}
	f.Version++
	return nil
}

// StepUpValid reports whether sessionID completed a step-up within window.
func (s *Store) StepUpValid(ctx context.Context, sessionID string, window time.Duration) (bool, error) {
	if sessionID == "" {
		return false, nil
	}
	var n int64
	err := s.g.WithContext(ctx).Model(&row{}).
		Where("session_id = ? AND purpose = ? AND state = ? AND done_at >= ?", sessionID, string(StepUp), string(Done), s.Now().Add(-window)).
		Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("flow: step-up: %w", err)
	}
	return n > 0, nil
}

// Cleanup deletes flows that expired more than a day ago (kept a while for
// step-up lookups and investigation), at most batch rows.
func (s *Store) Cleanup(ctx context.Context, batch int) (int64, error) {
	var ids []string
	if err := s.g.WithContext(ctx).Model(&row{}).Where("expires_at < ?", s.Now().Add(-24*time.Hour)).
		Limit(batch).Pluck("id", &ids).Error; err != nil || len(ids) == 0 {
		return 0, err
	}
	res := s.g.WithContext(ctx).Where("id IN ?", ids).Delete(&row{})
	return res.RowsAffected, res.Error
}

func toRow(f *Flow) (row, error) {
	proofs, err := json.Marshal(f.Proofs)
	if err != nil {
		return row{}, err
	}
	return row{
		ID: f.ID, BindHash: f.BindHash, Purpose: string(f.Purpose), UserID: f.UserID, Subject: f.Subject,
		Decoy: f.Decoy, AuthRequestID: f.AuthRequestID, SessionID: f.SessionID, Intent: string(f.Intent),
		State: string(f.State), Proofs: string(proofs), EnrollmentID: f.EnrollmentID, ChallengeID: f.ChallengeID,
		Challenge: f.Challenge, Data: f.Data, Version: f.Version, CreatedAt: f.CreatedAt.UTC(),
		ExpiresAt: f.ExpiresAt.UTC(), DoneAt: f.DoneAt,
	}, nil
}

func fromRow(r *row) (*Flow, error) {
	f := &Flow{
		ID: r.ID, BindHash: r.BindHash, Purpose: Purpose(r.Purpose), UserID: r.UserID, Subject: r.Subject,
		Decoy: r.Decoy, AuthRequestID: r.AuthRequestID, SessionID: r.SessionID, Intent: Intent(r.Intent),
		State: State(r.State), EnrollmentID: r.EnrollmentID, ChallengeID: r.ChallengeID, Challenge: r.Challenge,
		Data: r.Data, Version: r.Version, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), DoneAt: r.DoneAt,
	}
	if r.Proofs != "" && r.Proofs != "null" {
		if err := json.Unmarshal([]byte(r.Proofs), &f.Proofs); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// EndUser ends every open flow of userID inside tx (nil: the store's own
// database): each expires now and changes version, so a step already
// reading one loses its save and every later request finds it expired. A
// "This wasn't me" report kills even proven recoveries this way.
func (s *Store) EndUser(ctx context.Context, tx *gorm.DB, userID string) (int64, error) {
	if tx == nil {
		tx = s.g
	}
	if userID == "" {
		return 0, nil
	}
	now := s.Now()
	res := tx.WithContext(ctx).Model(&row{}).Where("user_id = ? AND expires_at > ? AND done_at IS NULL", userID, now).
		Updates(map[string]any{"expires_at": now, "version": gorm.Expr("version + 1")})
	if res.Error != nil {
		return 0, fmt.Errorf("flow: end user: %w", res.Error)
	}
	return res.RowsAffected, nil
}
