package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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

// ErrStale means the policy changed after the version the caller read.
var ErrStale = errors.New("policy: changed since it was read")

// Versioned returns the policy and its version: an opaque tag that changes
// with every stored change (the admin API's ETag).
func (s *Store) Versioned(ctx context.Context) (Policy, string, error) {
	r, found, err := s.row(ctx)
	if err != nil {
		return Policy{}, "", err
	}
	p, err := s.Get(ctx)
	if err != nil {
		return Policy{}, "", err
	}
	return p, versionOf(r, found), nil
}

func (s *Store) row(ctx context.Context) (Row, bool, error) {
	var r Row
	err := s.g.WithContext(ctx).Where("id = ?", 1).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Row{}, false, nil
	}
	if err != nil {
		return Row{}, false, fmt.Errorf("policy: get: %w", err)
	}
	return r, true, nil
}

// versionOf hashes the stored body and its time, so two writes of the same
// body are two versions; "default" is the unstored policy.
func versionOf(r Row, found bool) string {
	if !found {
		return "default"
	}
	h := sha256.Sum256([]byte(r.UpdatedAt.UTC().Format(time.RFC3339Nano) + "\x00" + r.Body))
	return hex.EncodeToString(h[:16])
}

// SetIf validates p and stores it if the stored policy is still at
// version, and returns the new version; ErrStale when another change came
// first. The write is conditional on the row read (one UPDATE, or one
// INSERT for the first policy), so of two writers holding one version
// exactly one wins.
func (s *Store) SetIf(ctx context.Context, p Policy, version string) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("policy: set: %w", err)
	}
	old, found, err := s.row(ctx)
	if err != nil {
		return "", err
	}
	if versionOf(old, found) != version {
		return "", ErrStale
	}
	r := Row{ID: 1, Body: string(b), UpdatedAt: s.now().UTC()}
	db := s.g.WithContext(ctx)
	if !found {
		err := db.Create(&r).Error
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return "", ErrStale
		}
		if err != nil {
			return "", fmt.Errorf("policy: set: %w", err)
		}
		return s.version(ctx)
	}
	if !r.UpdatedAt.After(old.UpdatedAt) {
		r.UpdatedAt = old.UpdatedAt.Add(time.Microsecond) // a new version even on a coarse clock
	}
	res := db.Model(&Row{}).Where("id = ? AND body = ? AND updated_at = ?", 1, old.Body, old.UpdatedAt).
		Updates(map[string]any{"body": r.Body, "updated_at": r.UpdatedAt})
	if res.Error != nil {
		return "", fmt.Errorf("policy: set: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return "", ErrStale
	}
	return s.version(ctx)
}

func (s *Store) version(ctx context.Context) (string, error) {
	r, found, err := s.row(ctx)
	if err != nil {
		return "", err
	}
	return versionOf(r, found), nil
}

// Change is one setting a policy change changed, as JSON values.
type Change struct {
	Field    string
	Old, New string
}

// Diff lists the settings that differ between old and next, in the order
// of Keys.
func Diff(old, next Policy) []Change {
	a, b := fields(old), fields(next)
	var out []Change
	for _, k := range Keys {
		if a[k] != b[k] {
			out = append(out, Change{Field: k, Old: a[k], New: b[k]})
		}
	}
	return out
}

// DescribeChanges is Diff as an audit detail: "required: 1 → 2; ...".
func DescribeChanges(old, next Policy) string {
	var parts []string
	for _, c := range Diff(old, next) {
		parts = append(parts, c.Field+": "+c.Old+" → "+c.New)
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, "; ")
}

func fields(p Policy) map[string]string {
	b, _ := json.Marshal(p)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	out := map[string]string{}
	for _, k := range Keys {
		v := string(m[k])
		if v == "" {
			v = `""` // an empty string left out by omitempty
		}
		out[k] = v
	}
	return out
}
