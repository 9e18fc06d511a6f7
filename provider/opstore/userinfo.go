package opstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/user"
)

var (
	errTokenInactive = errors.New("opstore: token inactive")
	errUserInactive  = errors.New("opstore: user unknown or disabled")
	errNotSupported  = errors.New("opstore: not supported")
)

// activeUser returns nil when the user exists and is enabled.
func (s *Storage) activeUser(ctx context.Context, id string) error {
	_, err := s.user(ctx, id)
	return err
}

func (s *Storage) user(ctx context.Context, id string) (*user.User, error) {
	if u := recallUser(ctx, id); u != nil {
		return u, nil
	}
	u, err := s.users.ByID(ctx, id)
	switch {
	case errors.Is(err, user.ErrNotFound):
		return nil, errUserInactive
	case err != nil:
		return nil, fmt.Errorf("opstore: user: %w", err)
	case u.Disabled:
		return nil, errUserInactive
	}
	rememberUser(ctx, u)
	return u, nil
}

// activeAccessToken loads an access token that is neither revoked nor
// expired.
func (s *Storage) activeAccessToken(ctx context.Context, id string) (*accessTokenRow, error) {
	var at accessTokenRow
	err := s.db(ctx).Where("id = ?", id).Take(&at).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return nil, errTokenInactive
	case err != nil:
		return nil, fmt.Errorf("opstore: access token: %w", err)
	case at.RevokedAt != nil || !s.clock().Before(at.ExpiresAt):
		return nil, errTokenInactive
	}
	return &at, nil
}

// fillUserinfo sets the subject and the claims the scopes ask for.
func fillUserinfo(info *oidc.UserInfo, u *user.User, scopes []string) {
	info.Subject = u.ID
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			info.Name = u.DisplayName
			info.GivenName, info.FamilyName = u.GivenName, u.FamilyName
			info.PreferredUsername = u.Username
			info.UpdatedAt = oidc.FromTime(u.UpdatedAt)
		case oidc.ScopeEmail:
			info.Email = u.Email
			// Addresses are entered by administrators (or the directory),
			// not proven by the user: never claim them verified.
			info.EmailVerified = false
		case oidc.ScopePhone:
			info.PhoneNumber = u.Phone
			info.PhoneNumberVerified = false
		case ScopeGroups:
			info.AppendClaims("groups", nonNil(u.Groups))
		}
	}
}

// SetUserinfoFromScopes is deprecated in the library; the claims are set
// by SetUserinfoFromRequest.
func (s *Storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's user claims, and sid.
func (s *Storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	u, err := s.user(ctx, req.GetSubject())
	switch {
	case errors.Is(err, errUserInactive):
		// Disabled or deleted between sign-in and token: a 400, not a 500.
		return errInvalidGrant("user not active")
	case err != nil:
		return oidc.ErrServerError().WithParent(err)
	}
	fillUserinfo(info, u, scopes)
	if sr, ok := req.(interface{ GetSessionID() string }); ok && sr.GetSessionID() != "" {
		info.AppendClaims("sid", sr.GetSessionID())
	}
	return nil
}

// SetUserinfoFromToken serves /userinfo for an active access token of an
// enabled user.
func (s *Storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	at, err := s.activeAccessToken(ctx, tokenID)
	if err != nil {
		return err
	}
	if at.Subject != subject || at.GrantID == "" {
		// Client-credentials tokens (no grant) have no user behind them.
		return errTokenInactive
	}
	if !slices.Contains(at.Scopes, oidc.ScopeOpenID) {
		return errors.New("opstore: token lacks the openid scope")
	}
	u, err := s.user(ctx, at.Subject)
	if err != nil {
		return err
	}
	fillUserinfo(info, u, at.Scopes)
	return nil
}

// SetIntrospectionFromToken answers /introspect. Returning nil means
// active:true, so every inactive case is an error; only the client the
// token was issued to (or one in its audience) may introspect it.
func (s *Storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	at, err := s.activeAccessToken(ctx, tokenID)
	if err != nil {
		return err
	}
	if at.Subject != subject || (at.ClientID != clientID && !slices.Contains(at.Audience, clientID)) {
		return errTokenInactive
	}
	if at.GrantID != "" { // a user token: the user must still be active
		if err := s.activeUser(ctx, at.Subject); err != nil {
			return err
		}
	}
	// Filled only once known active: the library returns this value even
	// on error.
	resp.Scope = at.Scopes
	resp.ClientID = at.ClientID
	resp.TokenType = oidc.BearerToken
	resp.Expiration = oidc.FromTime(at.ExpiresAt)
	resp.IssuedAt = oidc.FromTime(at.CreatedAt)
	resp.NotBefore = oidc.FromTime(at.CreatedAt)
	resp.Subject = at.Subject
	resp.Audience = at.Audience
	resp.JWTID = at.ID
	return nil
}

// GetPrivateClaimsFromScopes: JWT access tokens carry no extra claims.
func (s *Storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID refuses: Latchkey supports neither private_key_jwt,
// nor request objects, nor the JWT-profile grant, which the library always
// routes; without a key none of them can succeed.
func (s *Storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotSupported
}

// ValidateJWTProfileScopes refuses (see GetKeyByIDAndClientID).
func (s *Storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNotSupported
}
