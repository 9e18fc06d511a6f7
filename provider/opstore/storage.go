package opstore

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/cachever"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/keys"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
)

// Users is what the storage needs from the user directory; *user.Store
// implements it.
type Users interface {
	ByID(ctx context.Context, id string) (*user.User, error)
}

// Errors returned by the admin and sign-in methods.
var (
	ErrNotFound = errors.New("opstore: not found")
	ErrExists   = errors.New("opstore: already exists")
	// ErrInvalid wraps every validation problem of a client definition.
	ErrInvalid = errors.New("opstore: invalid client")
	// ErrRequestGone: the auth request is unknown, expired or already
	// completed.
	ErrRequestGone = errors.New("opstore: authorization request unknown, expired or completed")
)

// Defaults. Codes live briefly (RFC 6749 §4.1.2 recommends at most 10
// minutes); auth requests must outlast a password reset by email.
const (
	DefaultCodeTTL        = 2 * time.Minute
	DefaultAuthRequestTTL = 60 * time.Minute
	// DefaultClientCacheTTL bounds how long a cached client is reused when
	// the change counter does not move (a row edited by hand); changes made
	// through Latchkey are seen within cachever.DefaultEvery.
	DefaultClientCacheTTL = time.Minute
	DefaultAccessTTL      = time.Hour
	DefaultIDTokenTTL     = time.Hour
	DefaultRefreshIdle    = 14 * 24 * time.Hour
	DefaultRefreshMax     = 30 * 24 * time.Hour
	// MaxTokenTTL caps the lifetime of ID tokens and access tokens a client
	// may be configured with; keys.DefaultRetention keeps retired keys
	// published longer than that.
	MaxTokenTTL = 12 * time.Hour
)

// Option configures a Storage.
type Option func(*Storage)

// WithClock injects the clock (tests move it instead of sleeping).
func WithClock(now func() time.Time) Option { return func(s *Storage) { s.now = now } }

// WithLoginURL sets the sign-in page URL for an auth request id (default
// "/login?authRequestID=<id>").
func WithLoginURL(f func(authRequestID string) string) Option {
	return func(s *Storage) { s.loginURL = f }
}

// WithCodeTTL sets the authorization code lifetime.
func WithCodeTTL(d time.Duration) Option { return func(s *Storage) { s.codeTTL = d } }

// WithAuthRequestTTL sets how long a pending authorization request lives.
func WithAuthRequestTTL(d time.Duration) Option { return func(s *Storage) { s.authRequestTTL = d } }

// WithClientCacheTTL sets how long a client read from the database is
// reused (0 disables the cache).
func WithClientCacheTTL(d time.Duration) Option { return func(s *Storage) { s.clientTTL = d } }

// Storage implements op.Storage and the optional interfaces Latchkey uses.
type Storage struct {
	g        *gorm.DB
	w        *db.Writer // the token path's writes
	r        *reads     // and its lookups
	kr       *secret.Keyring
	keys     *keys.Manager
	users    Users
	sessions Sessions
	now      func() time.Time
	loginURL func(string) string

	codeTTL        time.Duration
	authRequestTTL time.Duration
	clientTTL      time.Duration
	cleanupBatch   int
	cleanupPause   time.Duration
	cleanupObserve func(table string, deleted int64)

	versions *cachever.Watch
	cacheMu  sync.Mutex
	cache    map[string]cachedClient
}

type cachedClient struct {
	c   *Client
	exp time.Time
	ver int64 // the clients counter the row was read under
}

var (
	_ op.Storage                        = (*Storage)(nil)
	_ op.ClientCredentialsStorage       = (*Storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*Storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*Storage)(nil)
	_ op.SigningKey                     = (*keys.SigningKey)(nil)
	_ op.Key                            = (*keys.PublicKey)(nil)
)

// New returns the storage on g (migrated with provider/schema). kr keys the
// hashes of secrets; km provides the signing keys; users is the directory.
func New(g *gorm.DB, kr *secret.Keyring, km *keys.Manager, users Users, opts ...Option) *Storage {
	s := &Storage{
		g: g, w: db.WriterOf(g), r: newReads(db.ReadPool(g)), kr: kr, keys: km, users: users, now: time.Now,
		loginURL:       func(id string) string { return "/login?authRequestID=" + url.QueryEscape(id) },
		codeTTL:        DefaultCodeTTL,
		authRequestTTL: DefaultAuthRequestTTL,
		clientTTL:      DefaultClientCacheTTL,
		cleanupBatch:   DefaultCleanupBatch,
		cleanupPause:   DefaultCleanupPause,
		cache:          map[string]cachedClient{},
	}
	for _, o := range opts {
		o(s)
	}
	s.versions = cachever.New(g, s.now, cachever.DefaultEvery)
	return s
}

func (s *Storage) clock() time.Time { return s.now().UTC() }

func (s *Storage) db(ctx context.Context) *gorm.DB { return s.g.WithContext(ctx) }

// newID is a 130-bit random identifier without ':'.
func newID() string { return rand.Text() }

// tokenIDs is base32 in ASCII order, so that ids sort as their bits do.
var tokenIDs = base32.HexEncoding.WithPadding(base32.NoPadding)

// newTokenID identifies a token row: 128 bits, of which the first 48 are
// the time in milliseconds and the other 80 random. Tokens made together
// sort together, so the primary-key index grows at its end, a few pages
// per batch of inserts, where random ids dirtied a page per row. (The
// time it tells is a token's issue time, which its claims carry anyway.)
func newTokenID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:]) // never fails
	return tokenIDs.EncodeToString(b[:])
}

// newSecret is 256 random bits, base64url: refresh tokens, client secrets.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// hash is the keyed hash stored for a code or refresh token.
func (s *Storage) hash(purpose, value string) string {
	return hex.EncodeToString(s.kr.MAC(purpose, value))
}

// hashes are the keyed hashes a stored value may have: under the current
// secret and, while LATCHKEY_SECRET_PREVIOUS is set, the previous one.
// Codes and refresh tokens cannot be re-hashed without their raw value,
// so they are found under either until they are used or expire.
func (s *Storage) hashes(purpose, value string) []string {
	var out []string
	for _, m := range s.kr.MACs(purpose, value) {
		out = append(out, hex.EncodeToString(m))
	}
	return out
}

const (
	purposeCode    = "oidc-code"
	purposeRefresh = "oidc-refresh-token"
	purposeSecret  = "client-secret"
)

// Health checks the database.
func (s *Storage) Health(ctx context.Context) error {
	sqlDB, err := s.g.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// SigningKey returns the active key for the client of the current token
// request (see Interceptor): ES256 for clients that chose it, RS256
// otherwise.
func (s *Storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	alg := keys.RS256
	if id := clientIDFrom(ctx); id != "" {
		if c, err := s.client(ctx, id); err == nil && c.row.IDTokenAlg == string(keys.ES256) {
			alg = keys.ES256
		}
	}
	k, err := s.keys.Signing(ctx, alg)
	if err != nil && alg != keys.RS256 {
		// Never fail a sign-in over the optional algorithm: RS256 is what
		// OIDC Core requires every client to accept.
		k, err = s.keys.Signing(ctx, keys.RS256)
	}
	if err != nil {
		return nil, fmt.Errorf("opstore: signing key: %w", err)
	}
	return k, nil
}

// SignatureAlgorithms lists the algorithms of the published keys.
func (s *Storage) SignatureAlgorithms(ctx context.Context) ([]jose.SignatureAlgorithm, error) {
	return s.keys.Algorithms(ctx)
}

// KeySet returns every published key, including retired keys that still
// verify live tokens.
func (s *Storage) KeySet(ctx context.Context) ([]op.Key, error) {
	ks, err := s.keys.KeySet(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]op.Key, len(ks))
	for i, k := range ks {
		out[i] = k
	}
	return out, nil
}

// JWKS returns the published keys as prepared JSON (rebuilt only when the
// key set changes), for the provider's /keys route.
func (s *Storage) JWKS(ctx context.Context) ([]byte, error) { return s.keys.JWKS(ctx) }
