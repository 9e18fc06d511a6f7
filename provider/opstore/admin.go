package opstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/cachever"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/keys"
)

// Client administration (latchkey client create/list/show/delete).

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
	// LogoURI is the app's logo on its sign-in page: a base64 data:image
	// URL or an https URL (cmd also keeps it on the issuer's origin).
	LogoURI string
	// AdminAPI lets the client's client-credentials tokens carry
	// ScopeAdmin; it needs the client_credentials grant.
	AdminAPI bool
}

var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CreateClient validates and stores a client. It returns the secret in
// clear exactly once ("" for public clients); only its keyed hash is kept.
func (s *Storage) CreateClient(ctx context.Context, nc NewClient) (*Client, string, error) {
	row, secretValue, err := s.buildClient(nc)
	if err != nil {
		return nil, "", err
	}
	err = s.db(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return cachever.Bump(tx, cachever.Clients)
	})
	if err != nil {
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
	if msg := checkLogoURI(nc.LogoURI); msg != "" {
		bad("%s", msg)
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
	if nc.AdminAPI && !slices.Contains(grants, GrantClientCredentials) {
		bad("admin API access needs the client_credentials grant")
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
		ID: nc.ID, Name: name, Public: nc.Public, ThirdParty: nc.ThirdParty, AdminAPI: nc.AdminAPI,
		RedirectURIs:           nonNil(nc.RedirectURIs),
		PostLogoutRedirectURIs: nonNil(nc.PostLogoutRedirectURIs),
		GrantTypes:             grants, IDTokenAlg: alg, AccessTokenType: att,
		AccessTokenTTL:     ttl("access token lifetime", nc.AccessTokenTTL, DefaultAccessTTL, MaxTokenTTL),
		IDTokenTTL:         ttl("ID token lifetime", nc.IDTokenTTL, DefaultIDTokenTTL, MaxTokenTTL),
		RefreshIdleTTL:     ttl("refresh token idle lifetime", nc.RefreshIdleTTL, DefaultRefreshIdle, 365*24*time.Hour),
		RefreshAbsoluteTTL: ttl("refresh token lifetime", nc.RefreshMaxTTL, DefaultRefreshMax, 365*24*time.Hour),
		CreatedAt:          s.clock(),
	}
	if nc.LogoURI != "" {
		row.LogoURI = &nc.LogoURI
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
	err := db.Transact(ctx, s.db(ctx), "client.delete", func(tx *gorm.DB) error {
		res := tx.Where("id = ?", id).Delete(&clientRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if err := cachever.Bump(tx, cachever.Clients); err != nil {
			return err
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

// maxLogoURI bounds a stored logo: a 32 KiB image in base64 and its prefix.
const maxLogoURI = 44 << 10

// checkLogoURI accepts "" (no logo), a base64 data:image URL or an https
// URL, without characters that would need escaping in an attribute.
func checkLogoURI(v string) string {
	switch {
	case v == "":
		return ""
	case len(v) > maxLogoURI:
		return "logo URI is longer than 44 KiB"
	case strings.ContainsAny(v, "\"'<> \t\r\n"):
		return "logo URI has quotes, angle brackets or spaces"
	case strings.HasPrefix(v, "data:image/") && strings.Contains(v, ";base64,"):
		return ""
	}
	if u, err := url.Parse(v); err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil {
		return ""
	}
	return "logo URI must be https:// or a base64 data:image URL"
}

// ClientChange is what UpdateClient changes; nil fields stay as they are.
type ClientChange struct {
	Name    *string
	LogoURI *string // "" removes the logo
}

// UpdateClient changes a client's name or logo.
func (s *Storage) UpdateClient(ctx context.Context, id string, ch ClientChange) (*Client, error) {
	set := map[string]any{}
	if ch.Name != nil {
		name := strings.TrimSpace(*ch.Name)
		if name == "" || len(name) > 190 {
			return nil, invalid("name must be 1 to 190 bytes")
		}
		set["name"] = name
	}
	if ch.LogoURI != nil {
		if msg := checkLogoURI(*ch.LogoURI); msg != "" {
			return nil, invalid("%s", msg)
		}
		if *ch.LogoURI == "" {
			set["logo_uri"] = nil
		} else {
			set["logo_uri"] = *ch.LogoURI
		}
	}
	if len(set) == 0 {
		return nil, invalid("nothing to change (give --name or --logo-uri)")
	}
	res := s.db(ctx).Model(&clientRow{}).Where("id = ?", id).Updates(set)
	if res.Error != nil {
		return nil, fmt.Errorf("opstore: update client: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		var n int64
		if err := s.db(ctx).Model(&clientRow{}).Where("id = ?", id).Count(&n).Error; err != nil {
			return nil, fmt.Errorf("opstore: update client: %w", err)
		}
		if n == 0 {
			return nil, ErrNotFound
		}
	}
	s.forget(id)
	var row clientRow
	if err := s.db(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return nil, fmt.Errorf("opstore: update client: %w", err)
	}
	return &Client{row: row, loginURL: s.loginURL}, nil
}
