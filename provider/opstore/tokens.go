package opstore

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/latchkeyid/latchkey/provider/db"
)

// RefreshTokenRequest is a stored, usable refresh token as the library
// sees it during the refresh grant.
type RefreshTokenRequest struct {
	row     refreshTokenRow
	current []string // scopes of the access token being issued
}

var _ op.RefreshTokenRequest = (*RefreshTokenRequest)(nil)

func (r *RefreshTokenRequest) GetAMR() []string       { return r.row.AMR }
func (r *RefreshTokenRequest) GetAudience() []string  { return r.row.Audience }
func (r *RefreshTokenRequest) GetAuthTime() time.Time { return r.row.AuthTime }
func (r *RefreshTokenRequest) GetClientID() string    { return r.row.ClientID }
func (r *RefreshTokenRequest) GetSubject() string     { return r.row.UserID }
func (r *RefreshTokenRequest) GetSessionID() string   { return r.row.SessionID }

// GetScopes returns the scopes of the token being issued: the grant's,
// unless the client asked for fewer.
func (r *RefreshTokenRequest) GetScopes() []string {
	if r.current != nil {
		return r.current
	}
	return r.row.Scopes
}

// SetCurrentScopes narrows only the access token issued now; the new
// refresh token keeps the original grant (the zitadel RP always sends its
// configured scopes, so narrowing the grant for good would lose claims).
func (r *RefreshTokenRequest) SetCurrentScopes(scopes []string) { r.current = slices.Clone(scopes) }

func jsonList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v) // []string always marshals
	return string(b)
}

// errInvalidGrant becomes invalid_grant at the token endpoint.
func errInvalidGrant(desc string) error { return oidc.ErrInvalidGrant().WithDescription("%s", desc) }

// CreateAccessToken saves an access token without a refresh token: the
// code flow without offline_access, and client credentials.
func (s *Storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	now := s.clock()
	switch r := req.(type) {
	case *AuthRequest:
		c, err := s.tokenClient(ctx, r.row.ClientID)
		if err != nil {
			return "", time.Time{}, err
		}
		if err := s.grantUser(ctx, r.row.UserID, r.row.SessionID, authTimeOf(r.row)); err != nil {
			return "", time.Time{}, err
		}
		at := s.accessFromAuth(r, c, now)
		err = s.write(ctx, "token.code", func(ex db.Execer) error {
			if err := consumeAuthRequest(ex, r.row.ID); err != nil {
				return err
			}
			return insertAccessToken(ex, &at)
		})
		if err != nil {
			return "", time.Time{}, s.tokenErr(err)
		}
		return at.ID, at.ExpiresAt, nil
	case *clientCredentialsRequest:
		c, err := s.tokenClient(ctx, r.clientID)
		if err != nil {
			return "", time.Time{}, err
		}
		at := accessTokenRow{
			ID: newTokenID(now), ClientID: r.clientID, Subject: r.clientID, Scopes: nonNil(r.scopes),
			Audience: []string{r.clientID}, CreatedAt: now, ExpiresAt: now.Add(c.AccessTokenTTL()),
		}
		// A lone insert: the Writer merges it with the others queued
		// into one multi-row INSERT.
		err = db.Retry(ctx, "token.client_credentials", func() error {
			return s.w.Insert(ctx, sqlInsertAccessToken, at.insertArgs()...)
		})
		if err != nil {
			return "", time.Time{}, s.tokenErr(err)
		}
		return at.ID, at.ExpiresAt, nil
	default:
		// JWT-profile grant and token exchange are not offered.
		return "", time.Time{}, oidc.ErrUnsupportedGrantType().WithDescription("grant not supported")
	}
}

func (s *Storage) tokenClient(ctx context.Context, id string) (*Client, error) {
	c, err := s.client(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, oidc.ErrInvalidClient().WithDescription("client no longer exists")
	case err != nil:
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return c, nil
}

// tokenErr keeps OAuth errors and hides database faults behind
// server_error (logged by the library, never shown).
func (s *Storage) tokenErr(err error) error {
	var oe *oidc.Error
	if errors.As(err, &oe) {
		return oe
	}
	return oidc.ErrServerError().WithParent(err)
}

// grantUser refuses to issue tokens for a user disabled or deleted since
// they signed in, or whose sign-in was revoked since (grantLive).
func (s *Storage) grantUser(ctx context.Context, id, sessionID string, authTime time.Time) error {
	switch err := s.grantLive(ctx, id, sessionID, authTime); {
	case errors.Is(err, errUserInactive):
		return errInvalidGrant("user not active")
	case errors.Is(err, errGrantRevoked):
		return errInvalidGrant("sign-in revoked")
	case err != nil:
		return oidc.ErrServerError().WithParent(err)
	}
	return nil
}

func (s *Storage) accessFromAuth(r *AuthRequest, c *Client, now time.Time) accessTokenRow {
	return accessTokenRow{
		ID: newTokenID(now), ClientID: r.row.ClientID, Subject: r.row.UserID, GrantID: r.row.ID,
		SessionID: r.row.SessionID, Scopes: nonNil(r.row.Scopes), Audience: []string{r.row.ClientID},
		CreatedAt: now, ExpiresAt: now.Add(c.AccessTokenTTL()),
	}
}

// CreateAccessAndRefreshTokens issues a first refresh token (code flow
// with offline_access) or rotates one (refresh grant). Rotation consumes
// the old token with a conditional UPDATE inside the transaction; losing
// that race means the token was presented twice, and the whole family is
// revoked.
func (s *Storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	now := s.clock()
	switch r := req.(type) {
	case *AuthRequest:
		if current != "" {
			return "", "", time.Time{}, errInvalidGrant("unexpected refresh token")
		}
		c, err := s.tokenClient(ctx, r.row.ClientID)
		if err != nil {
			return "", "", time.Time{}, err
		}
		if err := s.grantUser(ctx, r.row.UserID, r.row.SessionID, authTimeOf(r.row)); err != nil {
			return "", "", time.Time{}, err
		}
		raw := newSecret()
		rt := refreshTokenRow{
			ID: newTokenID(now), TokenHash: s.hash(purposeRefresh, raw), GrantID: r.row.ID, ClientID: r.row.ClientID,
			UserID: r.row.UserID, SessionID: r.row.SessionID, Scopes: nonNil(r.row.Scopes),
			Audience: []string{r.row.ClientID}, AMR: nonNil(r.row.AMR), AuthTime: r.GetAuthTime(),
			CreatedAt: now, FamilyExpiresAt: now.Add(c.RefreshMaxTTL()),
		}
		rt.FamilyID = rt.ID
		rt.ExpiresAt = minTime(now.Add(c.RefreshIdleTTL()), rt.FamilyExpiresAt)
		at := s.accessFromAuth(r, c, now)
		at.RefreshTokenID = rt.ID
		err = s.write(ctx, "token.code_refresh", func(ex db.Execer) error {
			if err := consumeAuthRequest(ex, r.row.ID); err != nil {
				return err
			}
			if err := insertRefreshToken(ex, &rt); err != nil {
				return err
			}
			return insertAccessToken(ex, &at)
		})
		if err != nil {
			return "", "", time.Time{}, s.tokenErr(err)
		}
		return at.ID, raw, at.ExpiresAt, nil
	case *RefreshTokenRequest:
		if current == "" || !slices.Contains(s.hashes(purposeRefresh, current), r.row.TokenHash) {
			return "", "", time.Time{}, errInvalidGrant("invalid refresh token")
		}
		return s.rotate(ctx, r, now)
	default:
		return "", "", time.Time{}, oidc.ErrUnsupportedGrantType().WithDescription("grant not supported")
	}
}

var errReused = errors.New("opstore: refresh token reused")

func (s *Storage) rotate(ctx context.Context, r *RefreshTokenRequest, now time.Time) (string, string, time.Time, error) {
	c, err := s.tokenClient(ctx, r.row.ClientID)
	if err != nil {
		return "", "", time.Time{}, err
	}
	old := r.row
	raw := newSecret()
	rt := old
	rt.ID, rt.TokenHash, rt.CreatedAt, rt.UsedAt, rt.RevokedAt = newTokenID(now), s.hash(purposeRefresh, raw), now, nil, nil
	rt.ExpiresAt = minTime(now.Add(c.RefreshIdleTTL()), old.FamilyExpiresAt)
	at := accessTokenRow{
		ID: newTokenID(now), ClientID: old.ClientID, Subject: old.UserID, GrantID: old.GrantID, RefreshTokenID: rt.ID,
		SessionID: old.SessionID, Scopes: nonNil(r.GetScopes()), Audience: nonNil(old.Audience),
		CreatedAt: now, ExpiresAt: minTime(now.Add(c.AccessTokenTTL()), old.FamilyExpiresAt),
	}
	err = s.write(ctx, "token.refresh", func(ex db.Execer) error { return useRefreshToken(ex, old.ID, now, &rt, &at) })
	if errors.Is(err, errReused) {
		// Lost the race against another use of the same token: treat it as
		// reuse (RFC 9700 §4.14.2), outside the rolled-back transaction.
		if err := s.revokeFamilyNow(ctx, old.FamilyID); err != nil {
			return "", "", time.Time{}, oidc.ErrServerError().WithParent(err)
		}
		return "", "", time.Time{}, errInvalidGrant("refresh token already used")
	}
	if err != nil {
		return "", "", time.Time{}, s.tokenErr(err)
	}
	return at.ID, raw, at.ExpiresAt, nil
}

// adminScopes drops ScopeAdmin from a user's grant unless the user holds
// the admin flag now: any first-party client may ask for it, only an
// admin gets it, and a refresh after the flag is removed no longer does.
func (s *Storage) adminScopes(ctx context.Context, userID string, scopes []string) ([]string, error) {
	if !slices.Contains(scopes, ScopeAdmin) {
		return scopes, nil
	}
	u, err := s.user(ctx, userID)
	if err != nil && !refused(err) {
		return nil, err
	}
	if err == nil && u.Admin {
		return scopes, nil
	}
	return slices.DeleteFunc(slices.Clone(scopes), func(sc string) bool { return sc == ScopeAdmin }), nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// refreshByHash finds a refresh token by its raw value.
func (s *Storage) refreshByHash(ctx context.Context, raw string) (*refreshTokenRow, error) {
	if raw == "" || len(raw) > 512 {
		return nil, nil
	}
	return s.refreshByHashes(ctx, s.hashes(purposeRefresh, raw))
}

// TokenRequestByRefreshToken loads a usable refresh token. Presenting one
// already used revokes its family; revoked and expired tokens and tokens
// of disabled or deleted users are refused.
func (s *Storage) TokenRequestByRefreshToken(ctx context.Context, raw string) (op.RefreshTokenRequest, error) {
	row, err := s.refreshByHash(ctx, raw)
	switch {
	case err != nil:
		return nil, oidc.ErrServerError().WithParent(err)
	case row == nil:
		return nil, errInvalidGrant("invalid refresh token")
	case row.UsedAt != nil:
		if err := s.revokeFamilyNow(ctx, row.FamilyID); err != nil {
			return nil, oidc.ErrServerError().WithParent(err)
		}
		return nil, errInvalidGrant("refresh token already used")
	case row.RevokedAt != nil || !s.clock().Before(row.ExpiresAt):
		return nil, errInvalidGrant("refresh token expired or revoked")
	}
	// The browser session may have ended normally since (refresh tokens
	// outlive it); what must not pass is a sign-in older than the
	// password. A family minted from a revoked session was already refused
	// when it was made (grantUser).
	switch err := s.grantLive(ctx, row.UserID, "", row.AuthTime); {
	case errors.Is(err, errGrantRevoked):
		return nil, errInvalidGrant("refresh token revoked")
	case err != nil:
		return nil, errInvalidGrant("user not active")
	}
	if row.Scopes, err = s.adminScopes(ctx, row.UserID, row.Scopes); err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return &RefreshTokenRequest{row: *row}, nil
}

// GetRefreshTokenInfo serves /revoke: exactly op.ErrInvalidRefreshToken for
// anything that is not one of our refresh tokens (any other error is a 500).
func (s *Storage) GetRefreshTokenInfo(ctx context.Context, clientID, raw string) (string, string, error) {
	row, err := s.refreshByHash(ctx, raw)
	if err != nil {
		return "", "", oidc.ErrServerError().WithParent(err)
	}
	if row == nil {
		return "", "", op.ErrInvalidRefreshToken
	}
	return row.UserID, row.ID, nil
}
