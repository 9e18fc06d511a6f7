package opstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/cachever"
)

// EnsureClient makes the stored client match nc, secret included: created
// when missing, rewritten when it differs. It is for the clients the
// server registers for itself at every start (the admin console), whose
// definition and secret are derived from the configuration, so every
// instance writes the same row. nc.Secret is required unless nc.Public.
func (s *Storage) EnsureClient(ctx context.Context, nc NewClient) (*Client, error) {
	if !nc.Public && nc.Secret == "" {
		return nil, errors.New("opstore: ensure client: a confidential client needs its secret")
	}
	want, _, err := s.buildClient(nc)
	if err != nil {
		return nil, err
	}
	err = s.db(ctx).Transaction(func(tx *gorm.DB) error {
		var old clientRow
		switch err := tx.Where("id = ?", nc.ID).Take(&old).Error; {
		case errors.Is(err, gorm.ErrRecordNotFound):
			if err := tx.Create(&want).Error; err != nil {
				return err
			}
			return cachever.Bump(tx, cachever.Clients)
		case err != nil:
			return err
		}
		sum, _ := hex.DecodeString(old.SecretHash)
		if _, current := s.kr.Verify(sum, purposeSecret, nc.ID, nc.Secret); current && sameDefinition(old, want) {
			return nil
		}
		want.CreatedAt = old.CreatedAt
		err := tx.Model(&clientRow{}).Where("id = ?", nc.ID).
			Select("secret_hash", "name", "logo_uri", "redirect_uris", "post_logout_redirect_uris", "grant_types",
				"public", "third_party", "admin_api", "id_token_alg", "access_token_type", "access_token_ttl",
				"id_token_ttl", "refresh_idle_ttl", "refresh_absolute_ttl", "previous_secret_hash", "previous_secret_expires_at").
			Updates(&want).Error
		if err != nil {
			return err
		}
		return cachever.Bump(tx, cachever.Clients)
	})
	s.forget(nc.ID)
	if err != nil {
		return nil, fmt.Errorf("opstore: ensure client %q: %w", nc.ID, err)
	}
	return s.ClientByID(ctx, nc.ID)
}

// sameDefinition compares what EnsureClient writes, the secret aside.
func sameDefinition(a, b clientRow) bool {
	x, y := definitionOf(a), definitionOf(b)
	return fmt.Sprint(x) == fmt.Sprint(y)
}
