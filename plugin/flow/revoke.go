package flow

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// RevokeUser ends every open flow of userID except keep (the one that is
// finishing), inside tx: recovery flows proven or not, step-ups and
// registrations. A revoked flow reads as expired, and its version moves,
// so a step already under way loses its conditional save.
func (s *Store) RevokeUser(ctx context.Context, tx *gorm.DB, userID, keep string) error {
	if tx == nil {
		tx = s.g
	}
	// Expiry moves back to the flow's creation, not to this clock's now:
	// another instance whose clock runs behind must see it expired too.
	q := tx.WithContext(ctx).Model(&row{}).Where("user_id = ? AND done_at IS NULL AND expires_at > created_at", userID)
	if keep != "" {
		q = q.Where("id <> ?", keep)
	}
	if err := q.Updates(map[string]any{"expires_at": gorm.Expr("created_at"), "version": gorm.Expr("version + 1")}).Error; err != nil {
		return fmt.Errorf("flow: revoke user: %w", err)
	}
	return nil
}
