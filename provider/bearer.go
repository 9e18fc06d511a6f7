package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/session"
)

// ErrInvalidToken: the bearer token is malformed, not issued by this
// provider, expired or revoked.
var ErrInvalidToken = errors.New("provider: invalid access token")

// tokenLookup is what VerifyAccessToken needs of the storage;
// *opstore.Storage has it.
type tokenLookup interface {
	ActiveAccessToken(ctx context.Context, tokenID, subject string) (*opstore.AccessToken, error)
}

// VerifyAccessToken checks a bearer access token for a resource server of
// this issuer (the admin API), the way /userinfo does: an opaque token
// must decrypt under the OP's key, a JWT must be signed by one of our keys
// for our issuer and unexpired. Either way the token's row must still be
// active, so a revoked JWT fails too. For a user's token whose refresh
// token did not record the sign-in, AuthTime and AMR are the browser
// session's, when that session still holds the proof the token was issued
// under (a later step-up does not freshen an older token).
func (p *Provider) VerifyAccessToken(ctx context.Context, raw string) (*opstore.AccessToken, error) {
	st, ok := p.store.(tokenLookup)
	if !ok || raw == "" || len(raw) > 4096 {
		return nil, ErrInvalidToken
	}
	var id, sub string
	if plain, err := p.op.Crypto().Decrypt(raw); err == nil {
		var found bool
		if id, sub, found = strings.Cut(plain, ":"); !found || strings.Contains(sub, ":") {
			return nil, ErrInvalidToken
		}
	} else {
		ctx := op.ContextWithIssuer(ctx, p.issuer)
		claims, err := op.VerifyAccessToken[*oidc.AccessTokenClaims](ctx, raw, p.op.AccessTokenVerifier(ctx))
		if err != nil {
			return nil, ErrInvalidToken
		}
		id, sub = claims.JWTID, claims.Subject
	}
	tok, err := st.ActiveAccessToken(ctx, id, sub)
	switch {
	case errors.Is(err, opstore.ErrTokenInactive):
		return nil, ErrInvalidToken
	case err != nil:
		return nil, fmt.Errorf("provider: access token: %w", err)
	}
	if tok.User && tok.AuthTime.IsZero() && tok.SessionID != "" {
		s, err := p.sessions.Get(ctx, tok.SessionID)
		switch {
		case errors.Is(err, session.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("provider: access token: %w", err)
		case !s.AuthTime.After(tok.CreatedAt):
			tok.AuthTime, tok.AMR = s.AuthTime, s.AMR
		}
	}
	return tok, nil
}
