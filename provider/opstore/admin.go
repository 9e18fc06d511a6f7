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

// Problem is one validation problem of a client definition. Field names
// the setting in the admin API's words (id, redirect_uris, ...).
type Problem struct{ Field, Message string }

// InvalidError lists every problem of a client definition at once;
// errors.Is(err, ErrInvalid) holds for it.
type InvalidError struct{ Problems []Problem }

func (e *InvalidError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Message
	}
	return ErrInvalid.Error() + ": " + strings.Join(msgs, "; ")
}

func (e *InvalidError) Unwrap() error { return ErrInvalid }

func invalid(field, format string, a ...any) error {
	return &InvalidError{Problems: []Problem{{Field: field, Message: fmt.Sprintf(format, a...)}}}
}

func (s *Storage) buildClient(nc NewClient) (clientRow, string, error) { return s.build(nc, true) }

// build validates a definition; withSecret also settles its secret (given
// or generated), which an update leaves alone.
func (s *Storage) build(nc NewClient, withSecret bool) (clientRow, string, error) {
	var problems []Problem
	bad := func(field, format string, a ...any) {
		problems = append(problems, Problem{Field: field, Message: fmt.Sprintf(format, a...)})
	}
	if !clientIDPattern.MatchString(nc.ID) {
		bad("id", "id must be 1-64 characters of letters, digits, '.', '_' or '-'")
	}
	name := strings.TrimSpace(nc.Name)
	if name == "" {
		name = nc.ID
	}
	if len(name) > 190 {
		bad("name", "name is longer than 190 bytes")
	}
	if msg := checkLogoURI(nc.LogoURI); msg != "" {
		bad("logo_uri", "%s", msg)
	}
	for _, u := range nc.RedirectURIs {
		if err := checkRedirect(u, nc.Public); err != nil {
			bad("redirect_uris", "redirect URI %q: %v", u, err)
		}
	}
	for _, u := range nc.PostLogoutRedirectURIs {
		if err := checkRedirect(u, nc.Public); err != nil {
			bad("post_logout_redirect_uris", "post-logout redirect URI %q: %v", u, err)
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
				bad("redirect_uris", "authorization_code needs at least one redirect URI")
			}
		case GrantRefreshToken:
			if !slices.Contains(grants, GrantAuthorizationCode) {
				bad("grant_types", "refresh_token needs authorization_code")
			}
		case GrantClientCredentials:
			if nc.Public {
				bad("grant_types", "a public client cannot use client_credentials")
			}
		default:
			bad("grant_types", "unknown grant type %q (authorization_code, refresh_token, client_credentials)", g)
		}
	}
	if nc.AdminAPI && !slices.Contains(grants, GrantClientCredentials) {
		bad("admin_api", "admin API access needs the client_credentials grant")
	}
	alg := nc.IDTokenAlg
	if alg == "" {
		alg = string(keys.RS256)
	}
	if alg != string(keys.RS256) && alg != string(keys.ES256) {
		bad("id_token_alg", "id token algorithm must be RS256 or ES256")
	}
	att := nc.AccessTokenType
	if att == "" {
		att = AccessTokenOpaque
	}
	if att != AccessTokenOpaque && att != AccessTokenJWT {
		bad("access_token_type", "access token type must be opaque or jwt")
	}
	ttl := func(field, name string, d, def, maxd time.Duration) int64 {
		if d == 0 {
			d = def
		}
		if d < time.Minute || d > maxd {
			bad(field, "%s must be between 1m and %s", name, maxd)
		}
		return int64(d / time.Second)
	}
	row := clientRow{
		ID: nc.ID, Name: name, Public: nc.Public, ThirdParty: nc.ThirdParty, AdminAPI: nc.AdminAPI,
		RedirectURIs:           nonNil(nc.RedirectURIs),
		PostLogoutRedirectURIs: nonNil(nc.PostLogoutRedirectURIs),
		GrantTypes:             grants, IDTokenAlg: alg, AccessTokenType: att,
		AccessTokenTTL:     ttl("access_token_ttl", "access token lifetime", nc.AccessTokenTTL, DefaultAccessTTL, MaxTokenTTL),
		IDTokenTTL:         ttl("id_token_ttl", "ID token lifetime", nc.IDTokenTTL, DefaultIDTokenTTL, MaxTokenTTL),
		RefreshIdleTTL:     ttl("refresh_idle_ttl", "refresh token idle lifetime", nc.RefreshIdleTTL, DefaultRefreshIdle, 365*24*time.Hour),
		RefreshAbsoluteTTL: ttl("refresh_max_ttl", "refresh token lifetime", nc.RefreshMaxTTL, DefaultRefreshMax, 365*24*time.Hour),
		CreatedAt:          s.clock(),
	}
	if nc.LogoURI != "" {
		row.LogoURI = &nc.LogoURI
	}
	if row.RefreshIdleTTL > row.RefreshAbsoluteTTL {
		bad("refresh_idle_ttl", "refresh token idle lifetime exceeds its absolute lifetime")
	}
	secretValue := ""
	switch {
	case !withSecret:
	case nc.Public && nc.Secret != "":
		bad("secret", "a public client has no secret")
	case nc.Public:
	case nc.Secret == "":
		secretValue = newSecret()
	case len(nc.Secret) < MinSecretLength || len(nc.Secret) > 512:
		bad("secret", "secret must be %d to 512 characters (random)", MinSecretLength)
	default:
		secretValue = nc.Secret
	}
	if len(problems) > 0 {
		return clientRow{}, "", &InvalidError{Problems: problems}
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
// Whether a client is public is fixed at creation (it decides whether
// there is a secret at all).
type ClientChange struct {
	Name    *string
	LogoURI *string // "" removes the logo

	RedirectURIs           *[]string
	PostLogoutRedirectURIs *[]string
	GrantTypes             *[]string
	ThirdParty             *bool
	AdminAPI               *bool
	IDTokenAlg             *string
	AccessTokenType        *string
	AccessTokenTTL         *time.Duration
	IDTokenTTL             *time.Duration
	RefreshIdleTTL         *time.Duration
	RefreshMaxTTL          *time.Duration
}

func (ch ClientChange) empty() bool { return ch == ClientChange{} }

// UpdateClient changes a client. The changed definition is validated as a
// whole by the same rules as CreateClient, every problem reported at once.
func (s *Storage) UpdateClient(ctx context.Context, id string, ch ClientChange) (*Client, error) {
	if ch.empty() {
		return nil, invalid("", "nothing to change (give --name, --logo-uri or --admin-api)")
	}
	if ch.Name != nil && strings.TrimSpace(*ch.Name) == "" {
		return nil, invalid("name", "name must be 1 to 190 bytes")
	}
	var row clientRow
	err := s.db(ctx).Transaction(func(tx *gorm.DB) error {
		var old clientRow
		if err := tx.Where("id = ?", id).Take(&old).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrNotFound
			}
			return err
		}
		nc := definitionOf(old)
		ch.apply(&nc)
		built, _, err := s.build(nc, false)
		if err != nil {
			return err
		}
		built.SecretHash, built.CreatedAt = old.SecretHash, old.CreatedAt
		built.PreviousSecretHash, built.PreviousSecretExpiresAt = old.PreviousSecretHash, old.PreviousSecretExpiresAt
		err = tx.Model(&clientRow{}).Where("id = ?", id).
			Select("name", "logo_uri", "redirect_uris", "post_logout_redirect_uris", "grant_types", "third_party",
				"admin_api", "id_token_alg", "access_token_type", "access_token_ttl", "id_token_ttl",
				"refresh_idle_ttl", "refresh_absolute_ttl").
			Updates(&built).Error
		if err != nil {
			return err
		}
		row = built
		return cachever.Bump(tx, cachever.Clients)
	})
	s.forget(id)
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalid):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("opstore: update client: %w", err)
	}
	return &Client{row: row, loginURL: s.loginURL}, nil
}

// definitionOf turns a stored client back into the definition it was
// built from (without its secret).
func definitionOf(r clientRow) NewClient {
	nc := NewClient{
		ID: r.ID, Name: r.Name, RedirectURIs: slices.Clone(r.RedirectURIs),
		PostLogoutRedirectURIs: slices.Clone(r.PostLogoutRedirectURIs), GrantTypes: slices.Clone(r.GrantTypes),
		Public: r.Public, ThirdParty: r.ThirdParty, AdminAPI: r.AdminAPI,
		IDTokenAlg: r.IDTokenAlg, AccessTokenType: r.AccessTokenType,
		AccessTokenTTL: time.Duration(r.AccessTokenTTL) * time.Second,
		IDTokenTTL:     time.Duration(r.IDTokenTTL) * time.Second,
		RefreshIdleTTL: time.Duration(r.RefreshIdleTTL) * time.Second,
		RefreshMaxTTL:  time.Duration(r.RefreshAbsoluteTTL) * time.Second,
	}
	if r.LogoURI != nil {
		nc.LogoURI = *r.LogoURI
	}
	return nc
}

func (ch ClientChange) apply(nc *NewClient) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setList := func(dst *[]string, v *[]string) {
		if v != nil {
			*dst = slices.Clone(*v)
		}
	}
	setTTL := func(dst *time.Duration, v *time.Duration) {
		if v != nil {
			*dst = *v
		}
	}
	if ch.Name != nil {
		nc.Name = strings.TrimSpace(*ch.Name)
	}
	set(&nc.LogoURI, ch.LogoURI)
	set(&nc.IDTokenAlg, ch.IDTokenAlg)
	set(&nc.AccessTokenType, ch.AccessTokenType)
	setList(&nc.RedirectURIs, ch.RedirectURIs)
	setList(&nc.PostLogoutRedirectURIs, ch.PostLogoutRedirectURIs)
	setList(&nc.GrantTypes, ch.GrantTypes)
	if ch.ThirdParty != nil {
		nc.ThirdParty = *ch.ThirdParty
	}
	if ch.AdminAPI != nil {
		nc.AdminAPI = *ch.AdminAPI
	}
	setTTL(&nc.AccessTokenTTL, ch.AccessTokenTTL)
	setTTL(&nc.IDTokenTTL, ch.IDTokenTTL)
	setTTL(&nc.RefreshIdleTTL, ch.RefreshIdleTTL)
	setTTL(&nc.RefreshMaxTTL, ch.RefreshMaxTTL)
}

// ListClientsAfter returns up to limit clients with ids after the given
// one, ordered by id (keyset pagination: stable while clients come and go).
func (s *Storage) ListClientsAfter(ctx context.Context, after string, limit int) ([]*Client, error) {
	var rows []clientRow
	if err := s.db(ctx).Where("id > ?", after).Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("opstore: list clients: %w", err)
	}
	out := make([]*Client, len(rows))
	for i := range rows {
		out[i] = &Client{row: rows[i], loginURL: s.loginURL}
	}
	return out, nil
}

// MaxSecretGrace bounds how long a replaced client secret keeps working.
const MaxSecretGrace = 30 * 24 * time.Hour

// RegenerateSecret gives a confidential client a new secret, returned in
// clear this once. The old secret keeps working for grace (0: it stops at
// once); only one previous secret is kept, so regenerating again within a
// grace period ends the older one.
func (s *Storage) RegenerateSecret(ctx context.Context, id string, grace time.Duration) (string, error) {
	if grace < 0 || grace > MaxSecretGrace {
		return "", invalid("grace_period", "grace period must be between 0 and %s", MaxSecretGrace)
	}
	value := newSecret()
	err := s.db(ctx).Transaction(func(tx *gorm.DB) error {
		var old clientRow
		if err := tx.Where("id = ?", id).Take(&old).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrNotFound
			}
			return err
		}
		if old.Public {
			return invalid("secret", "a public client has no secret")
		}
		set := map[string]any{
			"secret_hash":          hex.EncodeToString(s.kr.MAC(purposeSecret, id, value)),
			"previous_secret_hash": nil, "previous_secret_expires_at": nil,
		}
		if grace > 0 {
			set["previous_secret_hash"] = old.SecretHash
			set["previous_secret_expires_at"] = s.clock().Add(grace)
		}
		if err := tx.Model(&clientRow{}).Where("id = ?", id).Updates(set).Error; err != nil {
			return err
		}
		return cachever.Bump(tx, cachever.Clients)
	})
	s.forget(id)
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalid):
		return "", err
	case err != nil:
		return "", fmt.Errorf("opstore: regenerate secret: %w", err)
	}
	return value, nil
}
