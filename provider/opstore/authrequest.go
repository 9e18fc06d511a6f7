package opstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// AuthRequest is a stored authorization request. Besides op.AuthRequest it
// offers what the sign-in pages need (prompt, max_age, hints).
type AuthRequest struct {
	row authRequestRow
}

var _ op.AuthRequest = (*AuthRequest)(nil)

func (a *AuthRequest) GetID() string          { return a.row.ID }
func (a *AuthRequest) GetAMR() []string       { return a.row.AMR }
func (a *AuthRequest) GetAudience() []string  { return []string{a.row.ClientID} }
func (a *AuthRequest) GetClientID() string    { return a.row.ClientID }
func (a *AuthRequest) GetNonce() string       { return a.row.Nonce }
func (a *AuthRequest) GetRedirectURI() string { return a.row.RedirectURI }
func (a *AuthRequest) GetScopes() []string    { return a.row.Scopes }
func (a *AuthRequest) GetState() string       { return a.row.State }
func (a *AuthRequest) GetSubject() string     { return a.row.UserID }
func (a *AuthRequest) GetSessionID() string   { return a.row.SessionID }
func (a *AuthRequest) GetPrompt() []string    { return a.row.Prompt }
func (a *AuthRequest) GetLoginHint() string   { return a.row.LoginHint }
func (a *AuthRequest) GetHintSubject() string { return a.row.HintSubject }
func (a *AuthRequest) GetUILocales() []string { return a.row.UILocales }
func (a *AuthRequest) GetACRValues() []string { return a.row.ACRValues }
func (a *AuthRequest) ExpiresAt() time.Time   { return a.row.ExpiresAt }

// GetCreatedAt is when the sign-in began (a language picked since wins
// over its ui_locales).
func (a *AuthRequest) GetCreatedAt() time.Time { return a.row.CreatedAt }

func (a *AuthRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseType(a.row.ResponseType)
}
func (a *AuthRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(a.row.ResponseMode)
}

// GetACR reports the strength of the sign-in, from its methods.
func (a *AuthRequest) GetACR() string { return acrFor(a.row.AMR) }

// GetAuthTime is when the user authenticated (zero until Done).
func (a *AuthRequest) GetAuthTime() time.Time {
	if a.row.AuthTime == nil {
		return time.Time{}
	}
	return *a.row.AuthTime
}

// Done reports whether a user completed the sign-in for this request.
func (a *AuthRequest) Done() bool { return a.row.Done && a.row.UserID != "" }

// GetMaxAge returns max_age (prompt=login arrives as 0), nil when absent.
func (a *AuthRequest) GetMaxAge() *time.Duration {
	if a.row.MaxAge == nil {
		return nil
	}
	d := time.Duration(*a.row.MaxAge) * time.Second
	return &d
}

// GetCodeChallenge must be nil without a challenge: a non-nil empty one
// would make the library demand a code_verifier.
func (a *AuthRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.row.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.row.CodeChallenge, Method: oidc.CodeChallengeMethod(a.row.CodeChallengeMethod)}
}

// ACR values: "1" single-factor sign-in, "2" when two or more kinds of
// proof were given (amr "mfa", or two distinct methods).
const (
	ACRSingleFactor = "1"
	ACRMultiFactor  = "2"
)

func acrFor(amr []string) string {
	if len(amr) == 0 {
		return ""
	}
	if slices.Contains(amr, "mfa") || len(slices.Compact(slices.Sorted(slices.Values(amr)))) >= 2 {
		return ACRMultiFactor
	}
	return ACRSingleFactor
}

// Limits on request parameters we store, so a hostile request cannot fill
// the database (the library bounds nothing).
const (
	maxStateLen = 2048
	maxHintLen  = 512
)

// CreateAuthRequest stores a validated /authorize request. PKCE: plain is
// refused always; public clients must send an S256 challenge. Errors of
// type *oidc.Error go back to the client's redirect_uri.
func (s *Storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, hintSubject string) (op.AuthRequest, error) {
	c, err := s.lookupClient(ctx, req.ClientID)
	if err != nil {
		return nil, err
	}
	switch {
	case req.CodeChallenge == "" && c.row.Public:
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method=S256 is required for this client")
	case req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return nil, oidc.ErrInvalidRequest().WithDescription("only code_challenge_method=S256 is supported")
	case req.CodeChallenge == "" && req.CodeChallengeMethod != "":
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method without code_challenge")
	case len(req.CodeChallenge) > 128 || (req.CodeChallenge != "" && len(req.CodeChallenge) < 43):
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge must be 43 to 128 characters")
	case len(req.State) > maxStateLen || len(req.Nonce) > maxStateLen:
		return nil, oidc.ErrInvalidRequest().WithDescription("state or nonce too long")
	case len(req.LoginHint) > maxHintLen || len(req.ResponseMode) > 32 || len(req.ResponseType) > 64:
		return nil, oidc.ErrInvalidRequest().WithDescription("request parameter too long")
	}
	now := s.clock()
	row := authRequestRow{
		ID: newID(), ClientID: req.ClientID, RedirectURI: req.RedirectURI, State: req.State, Nonce: req.Nonce,
		Scopes: nonNil(req.Scopes), ResponseType: string(req.ResponseType), ResponseMode: string(req.ResponseMode),
		CodeChallenge: req.CodeChallenge, CodeChallengeMethod: string(req.CodeChallengeMethod),
		Prompt: nonNil(req.Prompt), LoginHint: req.LoginHint, HintSubject: hintSubject,
		ACRValues: nonNil(req.ACRValues), UILocales: []string{}, AMR: []string{},
		CreatedAt: now, ExpiresAt: now.Add(s.authRequestTTL),
	}
	if len(row.Prompt) > 8 || len(row.ACRValues) > 8 || len(row.Scopes) > 32 {
		return nil, oidc.ErrInvalidRequest().WithDescription("too many values")
	}
	if req.MaxAge != nil {
		v := int64(min(*req.MaxAge, 1<<31))
		row.MaxAge = &v
	}
	for _, l := range req.UILocales {
		if len(row.UILocales) < 8 {
			row.UILocales = append(row.UILocales, l.String())
		}
	}
	if err := s.db(ctx).Create(&row).Error; err != nil {
		return nil, fmt.Errorf("opstore: create auth request: %w", err)
	}
	return &AuthRequest{row: row}, nil
}

// AuthRequestByID returns a pending or completed, unexpired request.
func (s *Storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	a, err := s.authRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	return a, nil
}

// AuthRequest is AuthRequestByID with the concrete type.
func (s *Storage) AuthRequest(ctx context.Context, id string) (*AuthRequest, error) {
	return s.authRequest(ctx, id)
}

func (s *Storage) authRequest(ctx context.Context, id string) (*AuthRequest, error) {
	if id == "" || len(id) > 64 {
		return nil, ErrRequestGone
	}
	var row authRequestRow
	err := s.db(ctx).Where("id = ? AND expires_at > ?", id, s.clock()).Take(&row).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return nil, ErrRequestGone
	case err != nil:
		return nil, fmt.Errorf("opstore: auth request: %w", err)
	}
	return &AuthRequest{row: row}, nil
}

// CompleteAuthRequest marks the pending, unexpired request id as
// authenticated by userID in one conditional UPDATE. It fails with
// ErrRequestGone for unknown, expired or already completed requests.
func (s *Storage) CompleteAuthRequest(ctx context.Context, id, userID, sessionID string, authTime time.Time, amr []string) error {
	if userID == "" {
		return errors.New("opstore: complete auth request: empty user id")
	}
	authTime = authTime.UTC()
	var res *gorm.DB
	err := db.RetryStmt(ctx, s.db(ctx), "authrequest.complete", func(g *gorm.DB) error {
		res = g.Model(&authRequestRow{}).
			Where("id = ? AND done = ? AND expires_at > ?", id, false, s.clock()).
			Updates(map[string]any{
				"user_id": userID, "session_id": sessionID, "auth_time": authTime,
				"amr": jsonList(amr), "done": true,
			})
		return res.Error
	})
	if err != nil {
		return fmt.Errorf("opstore: complete auth request: %w", err)
	}
	if res.RowsAffected != 1 {
		return ErrRequestGone
	}
	return nil
}

// MarkAuthRequestDone is CompleteAuthRequest.
func (s *Storage) MarkAuthRequestDone(ctx context.Context, id, userID, sessionID string, authTime time.Time, amr []string) error {
	return s.CompleteAuthRequest(ctx, id, userID, sessionID, authTime, amr)
}

// SaveAuthCode stores the code's hash for a completed request, in one
// INSERT … SELECT (one code per request: a second one is refused).
func (s *Storage) SaveAuthCode(ctx context.Context, id, code string) error {
	if err := s.requestLive(ctx, id); err != nil {
		return err
	}
	now := s.clock()
	res := s.db(ctx).Exec(
		"INSERT INTO oidc_auth_codes (code_hash, auth_request_id, client_id, expires_at) "+
			"SELECT ?, id, client_id, ? FROM oidc_auth_requests WHERE id = ? AND done = ? AND expires_at > ?",
		s.hash(purposeCode, code), now.Add(s.codeTTL), id, true, now)
	switch {
	case errors.Is(res.Error, gorm.ErrDuplicatedKey):
		// The callback was replayed (reload, back button): one code per
		// request, so the client learns the request is spent.
		return oidc.ErrInvalidRequest().WithDescription("authorization request already answered")
	case res.Error != nil:
		return fmt.Errorf("opstore: save code: %w", res.Error)
	case res.RowsAffected != 1:
		return oidc.ErrInvalidRequest().WithDescription("authorization request expired or not completed")
	}
	return nil
}

// errCodeInvalid is what every failed redemption returns; the library
// answers invalid_grant.
var errCodeInvalid = errors.New("opstore: code unknown, expired or already used")

// AuthRequestByCode consumes the code atomically: exactly one of any number
// of concurrent redemptions wins. A redemption of a used code revokes the
// tokens issued from its grant (RFC 6749 §4.1.2).
func (s *Storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	if len(code) > 2048 {
		return nil, errCodeInvalid
	}
	h := s.hashes(purposeCode, code)
	now := s.clock()
	var cr authCodeRow
	if err := s.db(ctx).Where("code_hash IN ?", h).Take(&cr).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, errCodeInvalid
		}
		return nil, fmt.Errorf("opstore: redeem code: %w", err)
	}
	if cr.UsedAt != nil {
		return nil, s.replayed(ctx, cr.AuthRequestID)
	}
	if !now.Before(cr.ExpiresAt) {
		return nil, errCodeInvalid
	}
	// Load before consuming: once the code is used, a concurrent replay
	// deletes the request.
	var row authRequestRow
	if err := s.db(ctx).Where("id = ? AND done = ?", cr.AuthRequestID, true).Take(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, errCodeInvalid
		}
		return nil, fmt.Errorf("opstore: redeem code: %w", err)
	}
	if err := s.grantLive(ctx, row.UserID, row.SessionID, authTimeOf(row)); refused(err) {
		return nil, errCodeInvalid
	} else if err != nil {
		return nil, fmt.Errorf("opstore: redeem code: %w", err)
	}
	scopes, err := s.adminScopes(ctx, row.UserID, row.Scopes)
	if err != nil {
		return nil, fmt.Errorf("opstore: redeem code: %w", err)
	}
	row.Scopes = scopes
	if row.CodeChallenge == "" && hasVerifier(ctx) {
		// A verifier for a code issued without a challenge: PKCE downgrade
		// (RFC 9700 §4.8.2). invalid_grant, like any bad code.
		return nil, errCodeInvalid
	}
	if !s.mayClaim(ctx, cr, row) {
		return nil, errCodeInvalid
	}
	var n int64
	err = db.Retry(ctx, "code.redeem", func() (err error) {
		n, err = s.w.Exec(ctx, sqlClaimCode, now, cr.CodeHash, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("opstore: redeem code: %w", err)
	}
	if n != 1 {
		return nil, s.replayed(ctx, cr.AuthRequestID)
	}
	return &AuthRequest{row: row}, nil
}

// replayed handles a second redemption of a code.
func (s *Storage) replayed(ctx context.Context, grantID string) error {
	if err := s.revokeGrant(ctx, grantID); err != nil {
		return err
	}
	return errCodeInvalid
}

// revokeGrant answers a code replay: the request is deleted (so a
// redemption still in flight cannot create its tokens) and every token
// issued from the grant is revoked, with their refresh families.
func (s *Storage) revokeGrant(ctx context.Context, grantID string) error {
	now := s.clock()
	err := db.Transact(ctx, s.db(ctx), "code.replay_revoke", func(tx *gorm.DB) error {
		if err := tx.Where("id = ?", grantID).Delete(&authRequestRow{}).Error; err != nil {
			return err
		}
		var families []string
		if err := tx.Model(&refreshTokenRow{}).Where("grant_id = ?", grantID).Distinct().
			Pluck("family_id", &families).Error; err != nil {
			return err
		}
		for _, f := range families {
			if err := revokeFamily(tx, f, now); err != nil {
				return err
			}
		}
		return tx.Model(&accessTokenRow{}).Where("grant_id = ? AND "+accessHasGrant+" AND revoked_at IS NULL", grantID).
			Update("revoked_at", now).Error
	})
	if err != nil {
		return fmt.Errorf("opstore: revoke replayed grant: %w", err)
	}
	return nil
}

// DeleteAuthRequest is called after the tokens were made; the request was
// already consumed with them, so this only cleans up what may remain.
func (s *Storage) DeleteAuthRequest(ctx context.Context, id string) error {
	if err := s.db(ctx).Where("id = ?", id).Delete(&authRequestRow{}).Error; err != nil {
		return fmt.Errorf("opstore: delete auth request: %w", err)
	}
	return nil
}
