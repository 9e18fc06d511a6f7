package opstore

import (
	"context"
	"fmt"
)

// Cleanup deletes expired rows in bounded batches: auth requests, codes,
// access tokens, refresh token families past their absolute expiry (kept
// until then, used or revoked, for reuse detection) and signing keys past
// their publication period. It is idempotent, so every instance may run it.
func (s *Storage) Cleanup(ctx context.Context) error {
	now := s.clock()
	for _, t := range []struct{ table, key, where string }{
		{"oidc_auth_requests", "id", "expires_at < ?"},
		{"oidc_auth_codes", "code_hash", "expires_at < ?"},
		{"oidc_access_tokens", "id", "expires_at < ?"},
		{"oidc_refresh_tokens", "id", "family_expires_at < ?"},
	} {
		if err := s.deleteBatches(ctx, t.table, t.key, t.where, now); err != nil {
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

// deleteBatches selects up to cleanupBatch keys, then deletes them by key
// (MySQL refuses LIMIT in an IN subquery), at most 20 rounds per pass.
func (s *Storage) deleteBatches(ctx context.Context, table, key, where string, now any) error {
	for range 20 {
		var ids []string
		if err := s.db(ctx).Table(table).Where(where, now).Limit(cleanupBatch).Pluck(key, &ids).Error; err != nil {
			return fmt.Errorf("opstore: cleanup %s: %w", table, err)
		}
		if len(ids) == 0 {
			return nil
		}
		if err := s.db(ctx).Exec("DELETE FROM "+table+" WHERE "+key+" IN ?", ids).Error; err != nil {
			return fmt.Errorf("opstore: cleanup %s: %w", table, err)
		}
		if len(ids) < cleanupBatch {
			return nil
		}
	}
	return nil
}
