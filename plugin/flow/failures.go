package flow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Recovery block (Entra): 5 failed proofs for one subject within 24 hours
// block its recovery for 24 hours.
const (
	MaxFailures   = 5
	FailureWindow = 24 * time.Hour
)

type failure struct {
	ID      uint64    `gorm:"primaryKey;autoIncrement"`
	Subject string    `gorm:"size:80"`
	At      time.Time `gorm:"precision:6"`
}

func (failure) TableName() string { return "sspr_failures" }

// Failures counts failed proofs per subject (a user id or a decoy key).
type Failures struct {
	g   *gorm.DB
	now func() time.Time
}

// NewFailures returns the failure counter on g.
func NewFailures(g *gorm.DB, now func() time.Time) *Failures {
	if now == nil {
		now = time.Now
	}
	return &Failures{g: g, now: now}
}

// Add records one failed proof.
func (f *Failures) Add(ctx context.Context, subject string) error {
	if err := f.g.WithContext(ctx).Create(&failure{Subject: subject, At: f.now().UTC()}).Error; err != nil {
		return fmt.Errorf("flow: failure: %w", err)
	}
	return nil
}

// Reserve records a failed proof for subject before the answer is judged,
// then counts: ok is false when the subject already had MaxFailures within
// the window, and the record is taken back. Counting after the insert is
// what makes the budget hold under concurrency: of any number of racing
// requests, each sees at least every reservation made before its own, so
// at most MaxFailures are ever admitted. A judged wrong answer keeps its
// reservation (it is the failure); a right one, or one that was never
// judged, gives it back with Release.
func (f *Failures) Reserve(ctx context.Context, subject string) (id uint64, ok bool, err error) {
	r := failure{Subject: subject, At: f.now().UTC()}
	g := f.g.WithContext(ctx)
	if err := g.Create(&r).Error; err != nil {
		return 0, false, fmt.Errorf("flow: reserve: %w", err)
	}
	var n int64
	if err := g.Model(&failure{}).Where("subject = ? AND at > ?", subject, r.At.Add(-FailureWindow)).Count(&n).Error; err != nil {
		return 0, false, errors.Join(fmt.Errorf("flow: reserve: %w", err), f.Release(ctx, r.ID))
	}
	if n > MaxFailures {
		return 0, false, f.Release(ctx, r.ID)
	}
	return r.ID, true, nil
}

// Release takes back a reservation (id 0 is none).
func (f *Failures) Release(ctx context.Context, id uint64) error {
	if id == 0 {
		return nil
	}
	if err := f.g.WithContext(ctx).Where("id = ?", id).Delete(&failure{}).Error; err != nil {
		return fmt.Errorf("flow: release: %w", err)
	}
	return nil
}

// Blocked reports whether subject has MaxFailures failures since the later
// of (now - FailureWindow) and since (the last success or admin unlock:
// the zero time when none).
func (f *Failures) Blocked(ctx context.Context, subject string, since time.Time) (bool, error) {
	from := f.now().UTC().Add(-FailureWindow)
	if since.After(from) {
		from = since
	}
	var n int64
	if err := f.g.WithContext(ctx).Model(&failure{}).Where("subject = ? AND at > ?", subject, from).Count(&n).Error; err != nil {
		return false, fmt.Errorf("flow: failures: %w", err)
	}
	return n >= MaxFailures, nil
}

// Clear forgets subject's failures (a successful recovery resets the count).
func (f *Failures) Clear(ctx context.Context, tx *gorm.DB, subject string) error {
	if tx == nil {
		tx = f.g
	}
	if err := tx.WithContext(ctx).Where("subject = ?", subject).Delete(&failure{}).Error; err != nil {
		return fmt.Errorf("flow: failures: %w", err)
	}
	return nil
}
