package providertest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/keys"
	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/schema"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/session"
	"github.com/latchkeyid/latchkey/provider/user"
)

// The registered clients and the test user.
const (
	Username = "alice"
	Email    = "alice@example.com"
	Password = "correct horse battery staple"

	// WebClient is a confidential first-party app (code + refresh).
	WebClient     = "webapp"
	WebSecret     = "webapp-secret-0123456789abcdefghijklmnop" // #nosec G101 -- test fixture, registered only in test databases
	WebRedirect   = "https://app.example/callback"
	WebPostLogout = "https://app.example/signed-out"
	// PublicClient is a SPA/native app without a secret (PKCE required).
	PublicClient   = "spa"
	PublicRedirect = "https://spa.example/callback" // #nosec G101 -- a redirect URI, not a credential
	// ThirdPartyClient needs the user's consent.
	ThirdPartyClient   = "partner"
	ThirdPartySecret   = "partner-secret-0123456789abcdefghijklmn"
	ThirdPartyRedirect = "https://partner.example/callback"
	// ES256Client asks for ES256-signed ID tokens.
	ES256Client   = "es-app"
	ES256Secret   = "es-app-secret-0123456789abcdefghijklmnop" // #nosec G101 -- test fixture, registered only in test databases
	ES256Redirect = "https://es.example/callback"
	// ServiceClient uses client credentials only.
	ServiceClient = "service"
	ServiceSecret = "service-secret-0123456789abcdefghijklmn"
)

// Clock is a settable clock shared by every store of the server. It starts
// at the real time (tokens are checked by go-oidc against the real clock).
type Clock struct {
	mu  sync.Mutex
	off time.Duration
}

// Now returns the current fake time (UTC).
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.off)
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.off += d; c.mu.Unlock() }

// Server is a running provider.
type Server struct {
	URL      string // the issuer
	HTTP     *httptest.Server
	Echo     *echo.Echo
	Provider *provider.Provider
	Storage  provider.Storage
	OPStore  *opstore.Storage
	Keys     *keys.Manager
	DB       *gorm.DB
	Keyring  *secret.Keyring
	Users    *user.Store
	Audit    *audit.Log
	Clock    *Clock
	User     *user.User
	// Accounts revokes everything issued to a user (sessions and the OP's
	// requests, codes and tokens; plugintest adds the plugin's part).
	Accounts *account.Service
	// Instances lists every provider instance in start order (the first is
	// Echo and Keys), for tests that address one of them directly.
	Instances []Instance

	instanceKeys []*keys.Manager
}

// Instance is one provider instance: its HTTP handler and its own key
// cache on the shared database.
type Instance struct {
	Handler http.Handler
	Keys    *keys.Manager
}

// Config tweaks Start.
type Config struct {
	// Insecure serves plain http (dev mode); the default is TLS with an
	// https issuer, so cookies and headers are the production ones.
	Insecure bool
	// Lockout overrides the lockout policy (default threshold 10, 60s).
	Lockout *user.Lockout
	// Hasher overrides the fast test hasher (e.g. real Argon2id
	// parameters for a memory measurement).
	Hasher *password.Hasher
	// Provider edits the provider options before New.
	Provider func(*provider.Options)
	// Mount runs after the provider is mounted (e.g. to mount the plugin).
	// With several instances it runs once per instance.
	Mount func(s *Server, e *echo.Echo)
	// Keyring replaces the freshly generated LATCHKEY_SECRET (a restart
	// on the same database, or one during a secret rotation).
	Keyring *secret.Keyring
	// Reuse starts on a database a previous Start filled (a restart, a
	// restored backup): the test user and clients are found, not created.
	Reuse bool
	// Instances > 1 runs that many providers on the one database behind
	// the one issuer, requests spread round-robin (Provider and Echo are
	// the first instance's).
	Instances int
}

// Start runs a provider on the database at dbURL (from dbtest.Each) with
// the test user and clients, and stops it when the test ends.
func Start(t testing.TB, dbURL string, cfg Config) *Server {
	t.Helper()
	s := &Server{Clock: &Clock{}}
	if cfg.Insecure {
		s.HTTP = httptest.NewUnstartedServer(nil)
	} else {
		s.HTTP = httptest.NewUnstartedServer(nil)
		s.HTTP.EnableHTTP2 = false
	}
	// The issuer must be known before the provider is built, and the
	// listener picks the port, so start listening first.
	if cfg.Insecure {
		s.HTTP.Start()
	} else {
		s.HTTP.StartTLS()
	}
	t.Cleanup(s.HTTP.Close)
	s.URL = s.HTTP.URL

	s.DB = dbtest.Open(t, dbURL, []db.Set{schema.Set()}...)
	kr, err := secret.Parse(secret.Generate())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Keyring != nil {
		kr = cfg.Keyring
	}
	s.Keyring = kr
	hasher := password.NewHasher(password.Params{Memory: 1024, Time: 1, Threads: 1}) // fast for tests
	if cfg.Hasher != nil {
		hasher = cfg.Hasher
	}
	uopts := []user.Option{user.WithClock(s.Clock.Now), user.WithKeyring(kr)}
	if cfg.Lockout != nil {
		uopts = append(uopts, user.WithLockout(*cfg.Lockout))
	}
	s.Users = user.NewStore(s.DB, hasher, uopts...)
	s.Audit = audit.NewLog(s.DB, audit.WithClock(s.Clock.Now))
	if cfg.Reuse {
		s.User, err = s.Users.ByLogin(t.Context(), Username)
	} else {
		s.User, err = s.Users.Create(t.Context(), user.NewUser{Username: Username, Email: Email, DisplayName: "Alice Example", Password: Password})
	}
	if err != nil {
		t.Fatalf("providertest: test user: %v", err)
	}
	if cfg.Reuse {
		s.Keys, s.OPStore = s.newKeysAndStore(t)
		s.Storage = s.OPStore
	} else {
		s.Storage = newStorage(t, s, true)
	}
	s.Accounts = account.New(s.DB, s.Users, s.Clock.Now, session.NewStore(s.DB, session.WithClock(s.Clock.Now)), s.OPStore)
	s.instance(t, cfg, s.Storage, true)
	s.Instances = append(s.Instances, Instance{Handler: s.Echo, Keys: s.Keys})
	if cfg.Instances <= 1 {
		s.HTTP.Config.Handler = s.Echo
		return s
	}
	// Several instances behind one issuer, each with its own storage, key
	// cache and provider on the shared database, served round-robin like
	// a load balancer without stickiness.
	handlers := []http.Handler{s.Echo}
	for range cfg.Instances - 1 {
		e := s.instance(t, cfg, newStorage(t, s, false), false)
		handlers = append(handlers, e)
		s.Instances = append(s.Instances, Instance{Handler: e, Keys: s.instanceKeys[len(s.instanceKeys)-1]})
	}
	var next atomic.Uint64
	s.HTTP.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers[next.Add(1)%uint64(len(handlers))].ServeHTTP(w, r)
	})
	return s
}

// instance builds one provider with its Echo on storage; the first one
// becomes s.Provider and s.Echo before cfg.Mount runs, so Mount can use
// them (with several instances, Mount always sees the first provider).
func (s *Server) instance(t testing.TB, cfg Config, storage provider.Storage, first bool) *echo.Echo {
	t.Helper()
	opts := provider.Options{
		Issuer: s.URL, Insecure: cfg.Insecure, DB: s.DB, Keyring: s.Keyring, Users: s.Users, Audit: s.Audit,
		Storage: storage, Now: s.Clock.Now,
	}
	if cfg.Provider != nil {
		cfg.Provider(&opts)
	}
	p, err := provider.New(opts)
	if err != nil {
		t.Fatalf("providertest: %v", err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	p.Mount(e)
	if first {
		s.Provider, s.Echo = p, e
	}
	if cfg.Mount != nil {
		cfg.Mount(s, e)
	}
	t.Cleanup(func() { _ = p.Close() })
	return e
}

// Owns reports whether u is served by this provider (same scheme+host).
func (s *Server) Owns(u *url.URL) bool {
	iss, _ := url.Parse(s.URL)
	return u.Scheme == iss.Scheme && u.Host == iss.Host
}

// Each runs fn on a fresh server per database backend.
func Each(t *testing.T, cfg Config, fn func(t *testing.T, s *Server)) {
	t.Helper()
	dbtest.Each(t, func(t *testing.T, url string) { fn(t, Start(t, url, cfg)) })
}
