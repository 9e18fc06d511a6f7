package opstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// revokeFamily revokes every refresh token of the family and the access
// tokens issued with them. The family's token ids are read first: MariaDB
// runs an UPDATE's IN (subquery) as a dependent subquery, reading every
// access token row.
func revokeFamily(tx *gorm.DB, familyID string, now time.Time) error {
	var ids []string
	if err := tx.Model(&refreshTokenRow{}).Where("family_id = ?", familyID).Pluck("id", &ids).Error; err != nil {
		return err
	}
	if len(ids) > 0 {
		if err := tx.Model(&accessTokenRow{}).Where("revoked_at IS NULL AND refresh_token_id IN ? AND "+accessHasRefresh, ids).
			Update("revoked_at", now).Error; err != nil {
			return err
		}
	}
	return tx.Model(&refreshTokenRow{}).Where("family_id = ? AND revoked_at IS NULL", familyID).
		Update("revoked_at", now).Error
}

func (s *Storage) revokeFamilyNow(ctx context.Context, familyID string) error {
	return db.Transact(ctx, s.db(ctx), "token.revoke_family", func(tx *gorm.DB) error { return revokeFamily(tx, familyID, s.clock()) })
}

// RevokeToken serves /revoke (RFC 7009). It receives an access-token ID, a
// refresh-token ID (found by GetRefreshTokenInfo) or the raw token. Tokens
// of another client are refused; a refresh token takes its family and
// their access tokens with it; unknown tokens are not an error.
func (s *Storage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	if tokenOrID == "" || len(tokenOrID) > 4096 {
		return nil
	}
	now := s.clock()
	var at accessTokenRow
	err := s.db(ctx).Where("id = ?", tokenOrID).Take(&at).Error
	switch {
	case err == nil:
		if at.ClientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was issued to another client")
		}
		if err := s.db(ctx).Model(&accessTokenRow{}).Where("id = ? AND revoked_at IS NULL", at.ID).
			Update("revoked_at", now).Error; err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
		return nil
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return oidc.ErrServerError().WithParent(err)
	}
	var rt refreshTokenRow
	err = s.db(ctx).Where("id = ?", tokenOrID).Take(&rt).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		var byHash *refreshTokenRow
		byHash, err = s.refreshByHash(ctx, tokenOrID)
		if err == nil && byHash == nil {
			return nil
		}
		if byHash != nil {
			rt = *byHash
		}
	}
	if err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	if rt.ClientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was issued to another client")
	}
	if err := s.revokeFamilyNow(ctx, rt.FamilyID); err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

// TerminateSession revokes the refresh and access tokens of userID issued
// to clientID (RP-initiated logout).
func (s *Storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	if userID == "" || clientID == "" {
		return nil
	}
	now := s.clock()
	err := db.Transact(ctx, s.db(ctx), "session.terminate", func(tx *gorm.DB) error {
		if err := tx.Model(&refreshTokenRow{}).
			Where("user_id = ? AND client_id = ? AND revoked_at IS NULL", userID, clientID).
			Update("revoked_at", now).Error; err != nil {
			return err
		}
		return tx.Model(&accessTokenRow{}).
			Where("subject = ? AND client_id = ? AND revoked_at IS NULL", userID, clientID).
			Update("revoked_at", now).Error
	})
	if err != nil {
		return fmt.Errorf("opstore: terminate session: %w", err)
	}
	return nil
}

// TerminateSessionFromRequest revokes the client's tokens of the user and
// returns the validated post-logout redirect. The provider wraps it to end
// the browser session as well.
func (s *Storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	if err := s.TerminateSession(ctx, req.UserID, req.ClientID); err != nil {
		return "", err
	}
	return req.RedirectURI, nil
}
