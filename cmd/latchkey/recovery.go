package main

import (
	"fmt"

	"github.com/latchkeyid/latchkey/plugin/flow"
)

// clearRecoveryBlock forgets the user's failed recovery proofs, so an
// administrator's unlock also ends a recovery block: the plugin decides
// blocks from these records alone.
func (a *app) clearRecoveryBlock(userID string) error {
	g, err := a.database()
	if err != nil {
		return err
	}
	if err := flow.NewFailures(g, nil).Clear(a.ctx, nil, userID); err != nil {
		return fmt.Errorf("clear recovery block: %w", err)
	}
	return nil
}
