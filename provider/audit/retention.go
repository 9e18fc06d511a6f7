package audit

import (
	"context"
	"fmt"
	"time"
)

// DefaultPruneBatch is how many events one Prune call deletes at most.
const DefaultPruneBatch = 1000

// Prune deletes at most batch events recorded before before, oldest first,
// and returns how many it deleted. Each call is one short indexed SELECT
// and one DELETE by primary key, so it never holds locks long enough to
// stall the writers appending new events (which touch only the newest end
// of the table); the cleanup loop calls it a bounded number of times per
// pass until it deletes fewer than batch. Idempotent: every instance may
// run it.
func (l *Log) Prune(ctx context.Context, before time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	var ids []uint64
	// Select then delete by id: MySQL refuses LIMIT inside IN (subquery).
	if err := l.g.WithContext(ctx).Model(&Event{}).Where("time < ?", before.UTC()).
		Order("time").Order("id").Limit(batch).Pluck("id", &ids).Error; err != nil {
		return 0, fmt.Errorf("audit: prune: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	res := l.g.WithContext(ctx).Where("id IN ?", ids).Delete(&Event{})
	if res.Error != nil {
		return 0, fmt.Errorf("audit: prune: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// PruneAll runs Prune until a batch comes back short or maxBatches have
// run (the rest waits for the next pass), and returns how many it deleted.
func (l *Log) PruneAll(ctx context.Context, before time.Time, batch, maxBatches int) (int64, error) {
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	var total int64
	for range maxBatches {
		n, err := l.Prune(ctx, before, batch)
		total += n
		if err != nil || n < int64(batch) {
			return total, err
		}
	}
	return total, nil
}
