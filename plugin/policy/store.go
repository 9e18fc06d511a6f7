package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Row is the stored policy: one row, id 1, the policy as JSON (so new
// fields need no migration; missing ones take their defaults).
type Row struct {
	ID        int       `gorm:"primaryKey;autoIncrement:false"`
	Body      string    `gorm:"type:text;not null"`
	UpdatedAt time.Time `gorm:"precision:6;not null"`
}

// TableName is fixed by plugin/schema.
func (Row) TableName() string { return "sspr_policy" }

// Store reads and writes the policy.
type Store struct {
	g        *gorm.DB
	defaults Policy
	now      func() time.Time
}

// NewStore returns a store whose Get yields defaults until a policy is set.
func NewStore(g *gorm.DB, defaults Policy) *Store {
	return &Store{g: g, defaults: defaults, now: time.Now}
}

// Defaults is the policy used before anything is stored.
func (s *Store) Defaults() Policy { return s.defaults }

// Get returns the stored policy, or the defaults when none is stored.
// Fields absent from an older stored body keep their default values.
func (s *Store) Get(ctx context.Context) (Policy, error) {
	var r Row
	err := s.g.WithContext(ctx).Where("id = ?", 1).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return s.defaults, nil
	}
	if err != nil {
		return Policy{}, fmt.Errorf("policy: get: %w", err)
	}
	p := s.defaults
	p.Methods, p.PhoneCountries = nil, nil
	if err := json.Unmarshal([]byte(r.Body), &p); err != nil {
		return Policy{}, fmt.Errorf("policy: get: stored policy unreadable: %w", err)
	}
	if p.Methods == nil {
		p.Methods = []string{}
	}
	if p.PhoneCountries == nil {
		p.PhoneCountries = []string{}
	}
	return p, nil
}

// Set validates p and stores it.
func (s *Store) Set(ctx context.Context, p Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("policy: set: %w", err)
	}
	r := Row{ID: 1, Body: string(body), UpdatedAt: s.now().UTC()}
	err = s.g.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "id"}},
		DoUpdates: clause.AssignmentColumns([]string{"body", "updated_at"}),
	}).Create(&r).Error
	if err != nil {
		return fmt.Errorf("policy: set: %w", err)
	}
	return nil
}
