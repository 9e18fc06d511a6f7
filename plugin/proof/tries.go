package proof

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// MaxTries is how many answers one challenge may have judged (the code
// engine's limit, for every method).
const MaxTries = 5

// tryRow is the live model of sspr_proof_tries (frozen copy: plugin/schema).
type tryRow struct {
	FlowID      string    `gorm:"primaryKey;size:32"`
	ChallengeID string    `gorm:"size:64;not null"`
	Tries       int       `gorm:"not null"`
	ExpiresAt   time.Time `gorm:"precision:6;not null"`
}

func (tryRow) TableName() string { return "sspr_proof_tries" }

// tries counts the answers judged per challenge.
type tries struct {
	g   *gorm.DB
	now func() time.Time
	max int
}

// open starts the count of challengeID, the flow's new challenge, at zero
// (replacing the count of any earlier challenge of the flow), inside tx.
func (t *tries) open(ctx context.Context, tx *gorm.DB, flowID, challengeID string, expires time.Time) error {
	r := tryRow{FlowID: flowID, ChallengeID: challengeID, ExpiresAt: expires.UTC()}
	err := tx.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "flow_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"challenge_id", "tries", "expires_at"})}).Create(&r).Error
	if err != nil {
		return fmt.Errorf("proof: open tries: %w", err)
	}
	return nil
}

// claim spends one try of challengeID. ok is false when none is left (or
// the challenge is not the flow's current one); last is true when this was
// the final try. The row lock of the UPDATE serialises racing claims.
func (t *tries) claim(ctx context.Context, flowID, challengeID string) (ok, last bool, err error) {
	g := t.g.WithContext(ctx)
	res := g.Model(&tryRow{}).Where("flow_id = ? AND challenge_id = ? AND tries < ? AND expires_at > ?",
		flowID, challengeID, t.max, t.now().UTC()).Update("tries", gorm.Expr("tries + 1"))
	if res.Error != nil {
		return false, false, fmt.Errorf("proof: claim a try: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return false, false, nil
	}
	var r tryRow
	if err := g.Select("tries").Where("flow_id = ? AND challenge_id = ?", flowID, challengeID).Take(&r).Error; err != nil {
		return true, false, fmt.Errorf("proof: claim a try: %w", err)
	}
	return true, r.Tries >= t.max, nil
}

// refund gives a try back: the answer was not judged (a push not yet
// approved).
func (t *tries) refund(ctx context.Context, flowID, challengeID string) error {
	err := t.g.WithContext(ctx).Model(&tryRow{}).Where("flow_id = ? AND challenge_id = ? AND tries > 0", flowID, challengeID).
		Update("tries", gorm.Expr("tries - 1")).Error
	if err != nil {
		return fmt.Errorf("proof: refund a try: %w", err)
	}
	return nil
}

// cleanup deletes the counts of challenges that expired before before.
func (t *tries) cleanup(ctx context.Context, before time.Time) error {
	if err := t.g.WithContext(ctx).Where("expires_at < ?", before.UTC()).Delete(&tryRow{}).Error; err != nil {
		return fmt.Errorf("proof: cleanup tries: %w", err)
	}
	return nil
}
