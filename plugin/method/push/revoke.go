package push

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// RevokeUser ends userID's pending pushes and unused device links inside
// tx, so no prompt still on a phone can prove anything after the user's
// sign-ins were revoked.
func (m *Method) RevokeUser(ctx context.Context, tx *gorm.DB, userID string, _ time.Time) error {
	g := tx.WithContext(ctx)
	if err := g.Model(&challengeRow{}).Where("user_id = ? AND status = ?", userID, statusPending).
		Update("status", statusExpired).Error; err != nil {
		return fmt.Errorf("push: revoke user: %w", err)
	}
	// Back to its creation, whatever this instance's clock says.
	if err := g.Model(&linkRow{}).Where("user_id = ? AND used_at IS NULL AND expires_at > created_at", userID).
		Update("expires_at", gorm.Expr("created_at")).Error; err != nil {
		return fmt.Errorf("push: revoke user: %w", err)
	}
	return nil
}
