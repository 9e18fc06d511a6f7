package opstore

import (
	"context"
	"errors"
	"slices"
	"time"
)

// AccessToken is an active access token as a resource server of this
// issuer (the admin API) sees it.
type AccessToken struct {
	ID, ClientID, Subject string
	Scopes                []string
	// User is true for a token issued to a user (code or refresh grant);
	// false for a client-credentials token, whose subject is the client.
	User bool
	// SessionID is the browser session the user signed in with ("" when
	// none); AuthTime and AMR are that sign-in's, when the token's refresh
	// token recorded them (else zero: the caller asks the session).
	SessionID string
	AuthTime  time.Time
	AMR       []string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ErrTokenInactive: the access token is unknown, expired, revoked, of
// another subject, or of a user no longer active.
var ErrTokenInactive = errTokenInactive

// ActiveAccessToken loads the active access token tokenID issued to
// subject (the pair inside an opaque token or a verified JWT).
func (s *Storage) ActiveAccessToken(ctx context.Context, tokenID, subject string) (*AccessToken, error) {
	if tokenID == "" || len(tokenID) > 64 {
		return nil, errTokenInactive
	}
	at, err := s.activeAccessToken(ctx, tokenID)
	if err != nil {
		return nil, err
	}
	if at.Subject != subject {
		return nil, errTokenInactive
	}
	out := &AccessToken{
		ID: at.ID, ClientID: at.ClientID, Subject: at.Subject, Scopes: slices.Clone(at.Scopes),
		User: at.GrantID != "", SessionID: at.SessionID, CreatedAt: at.CreatedAt, ExpiresAt: at.ExpiresAt,
	}
	if !out.User {
		return out, nil
	}
	if err := s.activeUser(ctx, at.Subject); err != nil {
		if errors.Is(err, errUserInactive) {
			return nil, errTokenInactive
		}
		return nil, err
	}
	if at.RefreshTokenID != "" {
		var rt refreshTokenRow
		err := s.db(ctx).Select("auth_time", "amr").Where("id = ?", at.RefreshTokenID).Take(&rt).Error
		if err == nil {
			out.AuthTime, out.AMR = rt.AuthTime, rt.AMR
		}
	}
	return out, nil
}

// MultiFactor reports whether amr shows two kinds of proof: "mfa", or two
// distinct methods (the rule behind ACR "2").
func MultiFactor(amr []string) bool { return acrFor(amr) == ACRMultiFactor }
