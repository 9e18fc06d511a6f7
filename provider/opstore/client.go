package opstore

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/keys"
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

// MinSecretLength is the shortest client secret accepted from an operator:
// secrets are hashed with a fast keyed hash, which is only safe for
// high-entropy values.
const MinSecretLength = 32

// NewClient defines a client for CreateClient. Zero values get defaults.
type NewClient struct {
	ID, Name               string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	// GrantTypes default to authorization_code + refresh_token when
	// redirect URIs are given, else client_credentials.
	GrantTypes []string
	// Public clients have no secret and must use PKCE with S256.
	Public     bool
	ThirdParty bool
	// Secret is optional: empty means generate one (returned once).
	Secret          string
	IDTokenAlg      string // RS256 (default) or ES256
	AccessTokenType string // opaque (default) or jwt
	AccessTokenTTL  time.Duration
	IDTokenTTL      time.Duration
	RefreshIdleTTL  time.Duration
	RefreshMaxTTL   time.Duration
}

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

// IsScopeAllowed admits our one non-standard scope; the library keeps the
// standard OIDC scopes itself and drops everything else.
func (c *Client) IsScopeAllowed(scope string) bool { return scope == ScopeGroups }

// IDTokenUserinfoClaimsAssertion puts the profile and email claims into the
// ID token too, so relying parties need not call userinfo.
func (c *Client) IDTokenUserinfoClaimsAssertion() bool { return true }

var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CreateClient validates and stores a client. It returns the secret in
// clear exactly once ("" for public clients); only its keyed hash is kept.
func (s *Storage) CreateClient(ctx context.Context, nc NewClient) (*Client, string, error) {
	row, secretValue, err := s.buildClient(nc)
	if err != nil {
		return nil, "", err
	}
	if err := s.db(ctx).Create(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return nil, "", fmt.Errorf("opstore: create client %q: %w", nc.ID, ErrExists)
		}
		return nil, "", fmt.Errorf("opstore: create client: %w", err)
	}
	s.forget(row.ID)
	return &Client{row: row, loginURL: s.loginURL}, secretValue, nil
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

func (s *Storage) buildClient(nc NewClient) (clientRow, string, error) {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if !clientIDPattern.MatchString(nc.ID) {
		bad("id must be 1-64 characters of letters, digits, '.', '_' or '-'")
	}
	name := strings.TrimSpace(nc.Name)
	if name == "" {
		name = nc.ID
	}
	if len(name) > 190 {
		bad("name is longer than 190 bytes")
	}
	for _, u := range nc.RedirectURIs {
		if err := checkRedirect(u, nc.Public); err != nil {
			bad("redirect URI %q: %v", u, err)
		}
	}
	for _, u := range nc.PostLogoutRedirectURIs {
		if err := checkRedirect(u, nc.Public); err != nil {
			bad("post-logout redirect URI %q: %v", u, err)
		}
	}
	grants := slices.Clone(nc.GrantTypes)
	if len(grants) == 0 {
		if len(nc.RedirectURIs) > 0 {
			grants = []string{GrantAuthorizationCode, GrantRefreshToken}
		} else {
			grants = []string{GrantClientCredentials}
		}
	}
	slices.Sort(grants)
	grants = slices.Compact(grants)
	for _, g := range grants {
		switch g {
		case GrantAuthorizationCode:
			if len(nc.RedirectURIs) == 0 {
				bad("authorization_code needs at least one redirect URI")
			}
		case GrantRefreshToken:
			if !slices.Contains(grants, GrantAuthorizationCode) {
				bad("refresh_token needs authorization_code")
			}
		case GrantClientCredentials:
			if nc.Public {
				bad("a public client cannot use client_credentials")
			}
		default:
			bad("unknown grant type %q (authorization_code, refresh_token, client_credentials)", g)
		}
	}
	alg := nc.IDTokenAlg
	if alg == "" {
		alg = string(keys.RS256)
	}
	if alg != string(keys.RS256) && alg != string(keys.ES256) {
		bad("id token algorithm must be RS256 or ES256")
	}
	att := nc.AccessTokenType
	if att == "" {
		att = AccessTokenOpaque
	}
	if att != AccessTokenOpaque && att != AccessTokenJWT {
		bad("access token type must be opaque or jwt")
	}
	ttl := func(name string, d, def, maxd time.Duration) int64 {
		if d == 0 {
			d = def
		}
		if d < time.Minute || d > maxd {
			bad("%s must be between 1m and %s", name, maxd)
		}
		return int64(d / time.Second)
	}
	row := clientRow{
		ID: nc.ID, Name: name, Public: nc.Public, ThirdParty: nc.ThirdParty,
		RedirectURIs:           nonNil(nc.RedirectURIs),
		PostLogoutRedirectURIs: nonNil(nc.PostLogoutRedirectURIs),
		GrantTypes:             grants, IDTokenAlg: alg, AccessTokenType: att,
		AccessTokenTTL:     ttl("access token lifetime", nc.AccessTokenTTL, DefaultAccessTTL, MaxTokenTTL),
		IDTokenTTL:         ttl("ID token lifetime", nc.IDTokenTTL, DefaultIDTokenTTL, MaxTokenTTL),
		RefreshIdleTTL:     ttl("refresh token idle lifetime", nc.RefreshIdleTTL, DefaultRefreshIdle, 365*24*time.Hour),
		RefreshAbsoluteTTL: ttl("refresh token lifetime", nc.RefreshMaxTTL, DefaultRefreshMax, 365*24*time.Hour),
		CreatedAt:          s.clock(),
	}
	if row.RefreshIdleTTL > row.RefreshAbsoluteTTL {
		bad("refresh token idle lifetime exceeds its absolute lifetime")
	}
	secretValue := ""
	switch {
	case nc.Public && nc.Secret != "":
		bad("a public client has no secret")
	case nc.Public:
	case nc.Secret == "":
		secretValue = newSecret()
	case len(nc.Secret) < MinSecretLength || len(nc.Secret) > 512:
		bad("secret must be %d to 512 characters (random)", MinSecretLength)
	default:
		secretValue = nc.Secret
	}
	if len(problems) > 0 {
		return clientRow{}, "", invalid("%s", strings.Join(problems, "; "))
	}
	if secretValue != "" {
		row.SecretHash = hex.EncodeToString(s.kr.MAC(purposeSecret, row.ID, secretValue))
	}
	return row, secretValue, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// checkRedirect accepts absolute URIs without fragment: https anywhere,
// http only for loopback hosts, custom schemes only for public (native)
// clients.
func checkRedirect(raw string, public bool) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || len(raw) > 2000:
		return errors.New("must be an absolute URI")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("must not contain a fragment")
	case u.Scheme == "https":
		if u.Host == "" {
			return errors.New("needs a host")
		}
	case u.Scheme == "http":
		h := u.Hostname()
		if h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return errors.New("http is only allowed for localhost")
		}
	case !public:
		return errors.New("custom schemes are only for public (native) clients")
	case !strings.Contains(u.Scheme, "."):
		// RFC 8252 §7.1: reverse domain names; this also keeps out
		// javascript:, data: and file:.
		return errors.New("a custom scheme must be a reverse domain name such as com.example.app")
	}
	return nil
}

// ClientByID returns a client by id (ErrNotFound).
func (s *Storage) ClientByID(ctx context.Context, id string) (*Client, error) {
	var row clientRow
	if err := s.db(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, fmt.Errorf("opstore: client %q: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("opstore: client: %w", err)
	}
	return &Client{row: row, loginURL: s.loginURL}, nil
}

// ListClients returns every client ordered by id.
func (s *Storage) ListClients(ctx context.Context) ([]*Client, error) {
	var rows []clientRow
	if err := s.db(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("opstore: list clients: %w", err)
	}
	out := make([]*Client, len(rows))
	for i := range rows {
		out[i] = &Client{row: rows[i], loginURL: s.loginURL}
	}
	return out, nil
}

// DeleteClient removes a client, revokes its tokens and forgets its
// consents, in one transaction.
func (s *Storage) DeleteClient(ctx context.Context, id string) error {
	now := s.clock()
	err := s.db(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("id = ?", id).Delete(&clientRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if err := tx.Model(&refreshTokenRow{}).Where("client_id = ? AND revoked_at IS NULL", id).
			Update("revoked_at", now).Error; err != nil {
			return err
		}
		if err := tx.Model(&accessTokenRow{}).Where("client_id = ? AND revoked_at IS NULL", id).
			Update("revoked_at", now).Error; err != nil {
			return err
		}
		if err := tx.Where("client_id = ?", id).Delete(&authRequestRow{}).Error; err != nil {
			return err
		}
		return tx.Where("client_id = ?", id).Delete(&consentRow{}).Error
	})
	s.forget(id)
	if err != nil {
		return fmt.Errorf("opstore: delete client %q: %w", id, err)
	}
	return nil
}

// client returns the client, from the short-lived cache when possible:
// the library asks for the same client several times per request.
func (s *Storage) client(ctx context.Context, id string) (*Client, error) {
	now := s.clock()
	if s.clientTTL > 0 {
		s.cacheMu.Lock()
		e, ok := s.cache[id]
		s.cacheMu.Unlock()
		if ok && now.Before(e.exp) {
			return e.c, nil
		}
	}
	c, err := s.ClientByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.clientTTL > 0 {
		s.cacheMu.Lock()
		if len(s.cache) > 10000 { // bounded: only existing clients are cached
			clear(s.cache)
		}
		s.cache[id] = cachedClient{c: c, exp: now.Add(s.clientTTL)}
		s.cacheMu.Unlock()
	}
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
	return s.checkSecret(c, secretValue)
}

func (s *Storage) checkSecret(c *Client, secretValue string) error {
	want, err := hex.DecodeString(c.row.SecretHash)
	if c.row.Public || err != nil || len(want) == 0 || len(secretValue) > 512 {
		return errBadSecret
	}
	if !hmac.Equal(want, s.kr.MAC(purposeSecret, c.row.ID, secretValue)) {
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
	if err := s.checkSecret(c, secretValue); err != nil {
		return nil, err
	}
	return c, nil
}

// ClientCredentialsTokenRequest implements op.ClientCredentialsStorage.
// The client is the subject; user scopes make no sense without a user and
// are dropped.
func (s *Storage) ClientCredentialsTokenRequest(ctx context.Context, id string, scopes []string) (op.TokenRequest, error) {
	kept := make([]string, 0, len(scopes))
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeOpenID, oidc.ScopeOfflineAccess, oidc.ScopeProfile, oidc.ScopeEmail,
			oidc.ScopePhone, oidc.ScopeAddress, ScopeGroups:
		default:
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
