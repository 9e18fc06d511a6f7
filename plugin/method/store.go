package method

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// row is the live model of sspr_methods (frozen copy: plugin/schema).
type row struct {
	ID             string     `gorm:"primaryKey;size:32"`
	UserID         string     `gorm:"size:64;not null"`
	Method         string     `gorm:"size:32;not null"`
	Label          string     `gorm:"size:200;not null"`
	DestinationKey string     `gorm:"size:64;not null"`
	Data           []byte     `gorm:"type:blob"`
	Counter        int64      `gorm:"not null"`
	CreatedAt      time.Time  `gorm:"precision:6;not null"`
	UsableAt       time.Time  `gorm:"precision:6;not null"`
	VerifiedAt     time.Time  `gorm:"precision:6;not null"`
	LastUsedAt     *time.Time `gorm:"precision:6"`
}

func (row) TableName() string { return "sspr_methods" }

func (r row) enrollment() Enrollment {
	return Enrollment{ID: r.ID, UserID: r.UserID, Method: Name(r.Method), Label: r.Label,
		DestinationKey: r.DestinationKey, Data: r.Data, Counter: r.Counter, CreatedAt: r.CreatedAt.UTC(),
		UsableAt: r.UsableAt.UTC(), VerifiedAt: r.VerifiedAt.UTC(), LastUsedAt: utcPtr(r.LastUsedAt)}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Store keeps users' enrollments in sspr_methods. It never opens Data:
// each method seals and opens its own.
type Store struct {
	g   *gorm.DB
	now func() time.Time
}

// StoreOption configures a Store.
type StoreOption func(*Store)

// WithStoreClock injects the clock (tests).
func WithStoreClock(now func() time.Time) StoreOption { return func(s *Store) { s.now = now } }

// NewStore returns a store on g.
func NewStore(g *gorm.DB, opts ...StoreOption) *Store {
	s := &Store{g: g, now: func() time.Time { return time.Now().UTC() }}
	for _, o := range opts {
		o(s)
	}
	return s
}

// WithTx returns a copy of s that works inside tx.
func (s *Store) WithTx(tx *gorm.DB) *Store { c := *s; c.g = tx; return &c }

func (s *Store) db(ctx context.Context) *gorm.DB { return s.g.WithContext(ctx) }

// Add saves a new enrollment made by a method's Finish, usable only after
// coolDown, so a stolen session cannot plant a way in and use it at once.
// The caller decides the cool-down (0 for an account's very first
// registration): the table cannot tell, as deleted methods leave nothing
// here. A second enrollment of the same method and destination is
// ErrDuplicate. Add sets CreatedAt, VerifiedAt and UsableAt on e.
func (s *Store) Add(ctx context.Context, e *Enrollment, coolDown time.Duration) error {
	if e.ID == "" || e.UserID == "" || e.Method == "" {
		return fmt.Errorf("method: add: %w", errors.New("incomplete enrollment"))
	}
	now := s.now().UTC()
	return db.Transact(ctx, s.db(ctx), "method.add", func(tx *gorm.DB) error {
		var others []row
		if err := tx.Select("id", "method", "destination_key").Where("user_id = ?", e.UserID).Find(&others).Error; err != nil {
			return fmt.Errorf("method: add: %w", err)
		}
		for _, o := range others {
			if o.Method == string(e.Method) && (e.DestinationKey == "" || o.DestinationKey == e.DestinationKey) {
				return ErrDuplicate
			}
		}
		e.CreatedAt, e.VerifiedAt, e.UsableAt = now, now, now.Add(coolDown)
		r := row{ID: e.ID, UserID: e.UserID, Method: string(e.Method), Label: e.Label, DestinationKey: e.DestinationKey,
			Data: e.Data, Counter: e.Counter, CreatedAt: now, UsableAt: e.UsableAt, VerifiedAt: now}
		if err := tx.Create(&r).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return ErrDuplicate // a concurrent registration won
			}
			return fmt.Errorf("method: add: %w", err)
		}
		return nil
	})
}

// List returns the user's enrollments, oldest first.
func (s *Store) List(ctx context.Context, userID string) ([]Enrollment, error) {
	var rows []row
	if err := s.db(ctx).Where("user_id = ?", userID).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("method: list: %w", err)
	}
	out := make([]Enrollment, len(rows))
	for i, r := range rows {
		out[i] = r.enrollment()
	}
	return out, nil
}

// Usable returns the user's enrollments usable for recovery now, among
// the named methods (all when names is empty).
func (s *Store) Usable(ctx context.Context, userID string, names ...string) ([]Enrollment, error) {
	all, err := s.List(ctx, userID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out []Enrollment
	for _, e := range all {
		if !e.Usable(now) {
			continue
		}
		if len(names) > 0 && !contains(names, string(e.Method)) {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Get returns the enrollment id of userID; another user's id is
// ErrNotFound, as is an unknown one.
func (s *Store) Get(ctx context.Context, userID, id string) (Enrollment, error) {
	var r row
	err := s.db(ctx).Where("id = ? AND user_id = ?", id, userID).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Enrollment{}, ErrNotFound
	}
	if err != nil {
		return Enrollment{}, fmt.Errorf("method: get: %w", err)
	}
	return r.enrollment(), nil
}

// Delete removes the enrollment id of userID and its open challenges.
func (s *Store) Delete(ctx context.Context, userID, id string) error {
	return db.Transact(ctx, s.db(ctx), "method.delete", func(tx *gorm.DB) error {
		res := tx.Where("id = ? AND user_id = ?", id, userID).Delete(&row{})
		if res.Error != nil {
			return fmt.Errorf("method: delete: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if err := tx.Where("enrollment_id = ?", id).Delete(&challengeRow{}).Error; err != nil {
			return fmt.Errorf("method: delete: %w", err)
		}
		return nil
	})
}

// DeleteUser removes every enrollment and challenge of userID (account
// deletion).
func (s *Store) DeleteUser(ctx context.Context, userID string) error {
	return db.Transact(ctx, s.db(ctx), "method.delete_user", func(tx *gorm.DB) error {
		if err := tx.Where("user_id = ?", userID).Delete(&row{}).Error; err != nil {
			return fmt.Errorf("method: delete user: %w", err)
		}
		if err := tx.Where("user_id = ?", userID).Delete(&challengeRow{}).Error; err != nil {
			return fmt.Errorf("method: delete user: %w", err)
		}
		return nil
	})
}

// Used records a successful proof with id (shown as "last used").
func (s *Store) Used(ctx context.Context, id string) error {
	now := s.now().UTC()
	if err := s.db(ctx).Model(&row{}).Where("id = ?", id).Update("last_used_at", now).Error; err != nil {
		return fmt.Errorf("method: used: %w", err)
	}
	return nil
}

// Reconfirm marks all of userID's enrollments verified now (the periodic
// "are these still yours?" confirmation).
func (s *Store) Reconfirm(ctx context.Context, userID string) error {
	if err := s.db(ctx).Model(&row{}).Where("user_id = ?", userID).Update("verified_at", s.now().UTC()).Error; err != nil {
		return fmt.Errorf("method: reconfirm: %w", err)
	}
	return nil
}

// Advance moves the enrollment's counter to n if n is larger, atomically:
// of concurrent callers with the same n exactly one gets true. TOTP uses it
// so a code of the same or an earlier step than the last accepted fails.
func (s *Store) Advance(ctx context.Context, id string, n int64) (bool, error) {
	res := s.db(ctx).Model(&row{}).Where("id = ? AND counter < ?", id, n).Update("counter", n)
	if res.Error != nil {
		return false, fmt.Errorf("method: advance: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}
