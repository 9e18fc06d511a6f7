package opstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/cachever"
)

// Grant types a client may hold.
const (
	GrantAuthorizationCode = string(oidc.GrantTypeCode)
	GrantRefreshToken      = string(oidc.GrantTypeRefreshToken)
	GrantClientCredentials = string(oidc.GrantTypeClientCredentials)
)

// Access token types.
const (
	AccessTokenOpaque = "opaque"
	AccessTokenJWT    = "jwt"
)

// ScopeGroups asks for the user's groups in the "groups" claim.
const ScopeGroups = "groups"

// ScopeAdmin is the admin API's scope. A client-credentials token carries
// it only for a client registered for the admin API; a user's token only
// when the user holds the admin flag.
const ScopeAdmin = "latchkey:admin"

// MinSecretLength is the shortest client secret accepted from an operator:
// secrets are hashed with a fast keyed hash, which is only safe for
// high-entropy values.
const MinSecretLength = 32

// Client is a stored client. It implements op.Client plus the getters the
// sign-in pages use.
type Client struct {
	row      clientRow
	loginURL func(string) string
}

var _ op.Client = (*Client)(nil)

func (c *Client) GetID() string      { return c.row.ID }
func (c *Client) GetName() string    { return c.row.Name }
func (c *Client) IsThirdParty() bool { return c.row.ThirdParty }
func (c *Client) IsPublic() bool     { return c.row.Public }

// AdminAPI reports whether the client's client-credentials tokens may
// carry ScopeAdmin.
func (c *Client) AdminAPI() bool { return c.row.AdminAPI }

// LogoURI is the app's logo for its sign-in page, "" when it has none.
func (c *Client) LogoURI() string {
	if c.row.LogoURI == nil {
		return ""
	}
	return *c.row.LogoURI
}
func (c *Client) IDTokenAlg() string { return c.row.IDTokenAlg }
func (c *Client) AccessTokenTTL() time.Duration {
	return time.Duration(c.row.AccessTokenTTL) * time.Second
}
func (c *Client) RefreshIdleTTL() time.Duration {
	return time.Duration(c.row.RefreshIdleTTL) * time.Second
}
func (c *Client) RefreshMaxTTL() time.Duration {
	return time.Duration(c.row.RefreshAbsoluteTTL) * time.Second
}
func (c *Client) CreatedAt() time.Time             { return c.row.CreatedAt }
func (c *Client) RedirectURIs() []string           { return c.row.RedirectURIs }
func (c *Client) PostLogoutRedirectURIs() []string { return c.row.PostLogoutRedirectURIs }
func (c *Client) LoginURL(id string) string        { return c.loginURL(id) }
func (c *Client) IDTokenLifetime() time.Duration {
	return time.Duration(c.row.IDTokenTTL) * time.Second
}
func (c *Client) DevMode() bool            { return false }
func (c *Client) ClockSkew() time.Duration { return 0 }

// GrantTypeNames returns the grant types as stored.
func (c *Client) GrantTypeNames() []string { return slices.Clone(c.row.GrantTypes) }

// ApplicationType: confidential clients are web apps (exact redirect
// match, http allowed only for the code flow). A public client with a
// loopback or custom-scheme redirect is native, which lets loopback
// redirects use any port (RFC 8252 §7.3); other public clients are
// browser apps (https only).
func (c *Client) ApplicationType() op.ApplicationType {
	if !c.row.Public {
		return op.ApplicationTypeWeb
	}
	for _, u := range c.row.RedirectURIs {
		if !strings.HasPrefix(u, "https://") {
			return op.ApplicationTypeNative
		}
	}
	return op.ApplicationTypeUserAgent
}

func (c *Client) AuthMethod() oidc.AuthMethod {
	if c.row.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

// ResponseTypes: only the code flow (RFC 9700 §2.1.2).
func (c *Client) ResponseTypes() []oidc.ResponseType {
	if slices.Contains(c.row.GrantTypes, GrantAuthorizationCode) {
		return []oidc.ResponseType{oidc.ResponseTypeCode}
	}
	return nil
}

func (c *Client) GrantTypes() []oidc.GrantType {
	out := make([]oidc.GrantType, len(c.row.GrantTypes))
	for i, g := range c.row.GrantTypes {
		out[i] = oidc.GrantType(g)
	}
	return out
}

// AccessTokenFormat is the access token type as stored: opaque or jwt.
func (c *Client) AccessTokenFormat() string { return c.row.AccessTokenType }

func (c *Client) AccessTokenType() op.AccessTokenType {
	if c.row.AccessTokenType == AccessTokenJWT {
		return op.AccessTokenTypeJWT
	}
	return op.AccessTokenTypeBearer
}

func (c *Client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *Client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed admits our non-standard scopes; the library keeps the
// standard OIDC scopes itself and drops everything else. ScopeAdmin is
// kept in the request only for first-party and admin-API clients (a
// third-party app has no business holding an admin's API powers); whether
// the user may have it is decided once the user is known (adminScopes).
func (c *Client) IsScopeAllowed(scope string) bool {
	switch scope {
	case ScopeGroups:
		return true
	case ScopeAdmin:
		return !c.row.ThirdParty || c.row.AdminAPI
	}
	return false
}

// IDTokenUserinfoClaimsAssertion puts the profile and email claims into the
// ID token too, so relying parties need not call userinfo.
func (c *Client) IDTokenUserinfoClaimsAssertion() bool { return true }

// client returns the client, from the cache when possible: the library
// asks for the same client several times per request. An entry is reused
// while the clients counter is the one it was read under (so a change made
// by any instance is seen within one check interval) and its TTL lasts.
func (s *Storage) client(ctx context.Context, id string) (*Client, error) {
	if s.clientTTL <= 0 {
		return s.ClientByID(ctx, id)
	}
	now := s.clock()
	// Read the counter before the row: the row is then at least as new as
	// the counter it is filed under.
	ver := s.versions.Version(ctx, cachever.Clients)
	s.cacheMu.Lock()
	e, ok := s.cache[id]
	s.cacheMu.Unlock()
	if ok && e.ver == ver && now.Before(e.exp) {
		return e.c, nil
	}
	c, err := s.ClientByID(ctx, id)
	if err != nil {
		return nil, err
	}
	s.cacheMu.Lock()
	if len(s.cache) > 10000 { // bounded: only existing clients are cached
		clear(s.cache)
	}
	s.cache[id] = cachedClient{c: c, exp: now.Add(s.clientTTL), ver: ver}
	s.cacheMu.Unlock()
	return c, nil
}

func (s *Storage) forget(id string) {
	s.cacheMu.Lock()
	delete(s.cache, id)
	s.cacheMu.Unlock()
}

// errUnknownClient and errBadSecret are plain errors on purpose: the
// library turns them into invalid_client, while oidc.ErrServerError()
// would become a 500.
var (
	errUnknownClient = errors.New("opstore: unknown client")
	errBadSecret     = errors.New("opstore: wrong client secret")
)

// lookupClient maps a lookup failure to what the library expects.
func (s *Storage) lookupClient(ctx context.Context, id string) (*Client, error) {
	if len(id) > 64 {
		return nil, errUnknownClient
	}
	c, err := s.client(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, errUnknownClient
	case err != nil:
		return nil, oidc.ErrServerError().WithParent(err)
	}
	noteClient(ctx, id)
	return c, nil
}

// GetClientByClientID implements op.OPStorage.
func (s *Storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.lookupClient(ctx, id)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AuthorizeClientIDSecret checks a confidential client's secret in
// constant time against its keyed hash.
func (s *Storage) AuthorizeClientIDSecret(ctx context.Context, id, secretValue string) error {
	c, err := s.lookupClient(ctx, id)
	if err != nil {
		return err
	}
	return s.checkSecret(ctx, c, secretValue)
}

// checkSecret verifies a client secret. One that matches only under
// LATCHKEY_SECRET_PREVIOUS is re-hashed under the current secret then and
// there: client secrets are stored as keyed hashes and cannot be re-keyed
// without the raw value, so each client moves over at its next use.
func (s *Storage) checkSecret(ctx context.Context, c *Client, secretValue string) error {
	want, err := hex.DecodeString(c.row.SecretHash)
	if c.row.Public || err != nil || len(want) == 0 || len(secretValue) > 512 {
		return errBadSecret
	}
	ok, current := s.kr.Verify(want, purposeSecret, c.row.ID, secretValue)
	if !ok {
		return s.checkPreviousSecret(c, secretValue)
	}
	if !current {
		h := hex.EncodeToString(s.kr.MAC(purposeSecret, c.row.ID, secretValue))
		// Conditional on the old hash, so a secret changed meanwhile wins.
		err := s.db(ctx).Transaction(func(tx *gorm.DB) error {
			res := tx.Model(&clientRow{}).Where("id = ? AND secret_hash = ?", c.row.ID, c.row.SecretHash).
				Update("secret_hash", h)
			if res.Error != nil || res.RowsAffected == 0 {
				return res.Error
			}
			return cachever.Bump(tx, cachever.Clients)
		})
		if err != nil {
			return fmt.Errorf("opstore: re-hash client secret: %w", err)
		}
	}
	return nil
}

// checkPreviousSecret accepts the secret a regeneration replaced, until
// its grace period ends.
func (s *Storage) checkPreviousSecret(c *Client, secretValue string) error {
	r := c.row
	if r.PreviousSecretHash == nil || r.PreviousSecretExpiresAt == nil || !s.clock().Before(*r.PreviousSecretExpiresAt) {
		return errBadSecret
	}
	want, err := hex.DecodeString(*r.PreviousSecretHash)
	if err != nil || len(want) == 0 {
		return errBadSecret
	}
	if ok, _ := s.kr.Verify(want, purposeSecret, r.ID, secretValue); !ok {
		return errBadSecret
	}
	return nil
}

// ClientCredentials implements op.ClientCredentialsStorage.
func (s *Storage) ClientCredentials(ctx context.Context, id, secretValue string) (op.Client, error) {
	c, err := s.lookupClient(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.checkSecret(ctx, c, secretValue); err != nil {
		return nil, err
	}
	return c, nil
}

// ClientCredentialsTokenRequest implements op.ClientCredentialsStorage.
// The client is the subject. ScopeAdmin is granted only to a client
// registered for the admin API and refused with invalid_scope to any
// other; every other scope is unknown to Latchkey (user scopes make no
// sense without a user) and dropped, which the token response's scope
// shows (RFC 6749 §3.3).
func (s *Storage) ClientCredentialsTokenRequest(ctx context.Context, id string, scopes []string) (op.TokenRequest, error) {
	c, err := s.lookupClient(ctx, id)
	if err != nil {
		return nil, err
	}
	kept := []string{}
	for _, sc := range scopes {
		if sc != ScopeAdmin {
			continue
		}
		if !c.row.AdminAPI {
			return nil, oidc.ErrInvalidScope().WithDescription("scope %s is only for clients registered for the admin API", ScopeAdmin)
		}
		if !slices.Contains(kept, sc) {
			kept = append(kept, sc)
		}
	}
	return &clientCredentialsRequest{clientID: id, scopes: kept}, nil
}

type clientCredentialsRequest struct {
	clientID string
	scopes   []string
}

func (r *clientCredentialsRequest) GetSubject() string    { return r.clientID }
func (r *clientCredentialsRequest) GetAudience() []string { return []string{r.clientID} }
func (r *clientCredentialsRequest) GetScopes() []string   { return r.scopes }
