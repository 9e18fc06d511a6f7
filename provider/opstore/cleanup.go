package opstore

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkeyid/latchkey/provider/db"
)

// Cleanup batching defaults: a batch is one short DELETE of at most
// DefaultCleanupBatch rows, and the pass then rests at least
// DefaultCleanupPause, and never less than the batch took, so cleanup holds
// the database (SQLite's single write lock above all) at most half the
// time and token writes queue behind one batch at worst.
const (
	DefaultCleanupBatch = 500
	DefaultCleanupPause = 10 * time.Millisecond
)

// WithCleanupBatch sets the rows per cleanup DELETE and the least pause
// between two batches.
func WithCleanupBatch(rows int, pause time.Duration) Option {
	return func(s *Storage) {
		if rows > 0 {
			s.cleanupBatch = rows
		}
		if pause >= 0 {
			s.cleanupPause = pause
		}
	}
}

// WithCleanupObserver calls fn after every cleanup batch with the table
// and the rows it deleted (for metrics and tests).
func WithCleanupObserver(fn func(table string, deleted int64)) Option {
	return func(s *Storage) { s.cleanupObserve = fn }
}

// Cleanup deletes expired rows in bounded batches until none is left or
// ctx ends: auth requests, codes, access tokens, refresh token families
// past their absolute expiry (kept until then, used or revoked, for reuse
// detection) and signing keys past their publication period. It is
// idempotent, so every instance may run it.
func (s *Storage) Cleanup(ctx context.Context) error {
	now := s.clock()
	for _, t := range []struct{ table, key, col string }{
		{"oidc_auth_requests", "id", "expires_at"},
		{"oidc_auth_codes", "code_hash", "expires_at"},
		{"oidc_access_tokens", "id", "expires_at"},
		{"oidc_refresh_tokens", "id", "family_expires_at"},
	} {
		if err := s.deleteBatches(ctx, t.table, t.key, t.col, now); err != nil {
			return err
		}
	}
	if s.keys != nil {
		if _, err := s.keys.Cleanup(ctx); err != nil {
			return err
		}
	}
	return nil
}

// deleteBatches deletes the rows whose col (an indexed expiry) is past,
// oldest first, one bounded statement at a time, each its own short
// transaction, resting between them. MySQL takes DELETE ... LIMIT
// directly, SQLite (built without that extension) a key subquery with
// LIMIT.
func (s *Storage) deleteBatches(ctx context.Context, table, key, col string, now time.Time) error {
	where := col + " < ?"
	stmt := "DELETE FROM " + table + " WHERE " + key + " IN (SELECT " + key + " FROM " + table + " WHERE " + where + " ORDER BY " + col + " LIMIT ?)"
	if s.g.Dialector.Name() == db.MySQL {
		// Ordered by the indexed column: without it MySQL reads the whole
		// table once many rows have expired, locking as it goes.
		stmt = "DELETE FROM " + table + " WHERE " + where + " ORDER BY " + col + " LIMIT ?"
	}
	for {
		start := time.Now()
		res := s.db(ctx).Exec(stmt, now, s.cleanupBatch)
		if res.Error != nil {
			return fmt.Errorf("opstore: cleanup %s: %w", table, res.Error)
		}
		if s.cleanupObserve != nil {
			s.cleanupObserve(table, res.RowsAffected)
		}
		if res.RowsAffected < int64(s.cleanupBatch) {
			return nil
		}
		pause := max(s.cleanupPause, time.Since(start))
		select {
		case <-ctx.Done():
			return fmt.Errorf("opstore: cleanup %s: %w", table, ctx.Err())
		case <-time.After(pause):
		}
	}
}
