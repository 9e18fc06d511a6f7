package provider

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/cachever"
	"github.com/latchkeyid/latchkey/provider/opaque"
	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/session"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// LoginThrottle limits failed password sign-ins per client IP: per-account
// lockout cannot see one address trying a few passwords on many accounts
// (credential stuffing, password spraying). cmd backs it with the shared
// database counters, so every instance counts together.
//
// It is reserve-then-check: every attempt is counted atomically before its
// password is hashed, and one that did not fail is given back. A "is ip
// over the limit?" read followed by a later increment would let a burst of
// parallel attempts all pass the read.
type LoginThrottle interface {
	// Reserve counts one attempt from ip; ok false means the limit is
	// reached (nothing was counted) and retryAfter says for how long.
	Reserve(ctx context.Context, ip string) (ok bool, retryAfter time.Duration, err error)
	// Refund gives back a reservation whose attempt did not fail (a
	// successful sign-in, or one that was never evaluated).
	Refund(ctx context.Context, ip string) error
}

// AfterSignIn is called after each successful password sign-in (the SSPR
// plugin uses it to force method registration). A non-empty redirect sends
// the browser there instead of back to the application; the plugin later
// returns it with SignIn.ContinueURL.
type AfterSignIn interface {
	AfterSignIn(c echo.Context, userID, authRequestID string) (redirect string, err error)
}

// Options configure New. Issuer, DB, Keyring, Users, Audit and Storage are
// required.
type Options struct {
	// Issuer is the public URL, e.g. https://id.example.com, without a path
	// or trailing slash. Every URL the provider builds starts with it.
	Issuer string
	// Insecure allows an http issuer (dev mode and tests only): cookies lose
	// Secure and the __Host- prefix, HSTS is not sent.
	Insecure bool

	DB      *gorm.DB
	Keyring *secret.Keyring
	Users   *user.Store
	Audit   *audit.Log
	Storage Storage

	// Sessions defaults to session.NewStore(DB) with SessionTTL.
	Sessions   *session.Store
	SessionTTL time.Duration
	// Renderer defaults to ui.New().
	Renderer *ui.Renderer
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string
	// ExtraHosts are Host values accepted besides the issuer's host.
	ExtraHosts []string
	// AfterSignIn is optional.
	AfterSignIn AfterSignIn
	// LoginThrottle, when set, limits failed sign-ins per client IP.
	LoginThrottle LoginThrottle
	// Now defaults to time.Now (tests move the clock instead of sleeping).
	Now func() time.Time
	// AccessLog, when set, gets one line per request (web.AccessLog).
	AccessLog *slog.Logger
	// Version is the binary's version, published as latchkey_build_info.
	Version string
	// CleanupInterval is how often Start's goroutine deletes expired rows
	// (default 5 minutes).
	CleanupInterval time.Duration
	// ChangePasswordURL is where a sign-in with a temporary password is
	// sent to choose a new one before any application gets a code
	// (default /security-info/password, the SSPR plugin's page).
	ChangePasswordURL string
	// SecondProofURL is where a sign-in that needs two proofs (acr_values
	// "2" or "mfa") is sent after the first, to prove one more method
	// (default /security-info/second-proof, the SSPR plugin's page).
	SecondProofURL string
	// AuditRetention is how long audit events are kept; each cleanup pass
	// deletes older ones in bounded batches. 0 keeps every event.
	AuditRetention time.Duration
}

// Provider is the mounted OpenID provider with its pages.
type Provider struct {
	issuer   string
	host     string
	secure   bool
	op       *op.Provider
	store    Storage
	db       *gorm.DB
	keyring  *secret.Keyring
	users    *user.Store
	audit    *audit.Log
	sessions *session.Store
	render   *ui.Renderer
	after    AfterSignIn
	throttle LoginThrottle
	now      func() time.Time
	metrics  *metrics
	ipx      echo.IPExtractor
	proxies  []*net.IPNet
	access   *slog.Logger
	hosts    []string
	callback func(context.Context, string) string
	cache    discoveryCache

	cleanupEvery   time.Duration
	auditRetention time.Duration
	changePassword string
	secondProof    string
	formats        *cachever.Watch // the opaque format setting
	startOnce      sync.Once
	stopOnce       sync.Once
	stop           chan struct{}
	done           chan struct{}
}

// Cookie base names (web.CookieName adds __Host- under https).
const (
	sessionCookie = "lk_session"
	bindCookie    = "lk_bind"
)

// lockoutMemory is how long the failure count of a login name that no
// account has is kept after its last attempt (real accounts keep theirs on
// their own row until a success).
const lockoutMemory = 24 * time.Hour

// authRequestTTL bounds how long a browser binding is kept; it outlasts
// the OP's auth request lifetime so a slow recovery still finds it.
const authRequestTTL = 2 * time.Hour

// New builds the provider. It does not listen; call Mount and serve the
// Echo instance, then Start for background cleanup.
func New(o Options) (*Provider, error) {
	var problems []string
	iss, err := url.Parse(o.Issuer)
	switch {
	case o.Issuer == "" || err != nil || iss.Host == "":
		problems = append(problems, "issuer must be an absolute URL such as https://id.example.com")
	case iss.Scheme != "https" && !(iss.Scheme == "http" && o.Insecure):
		problems = append(problems, "issuer must use https (http only in dev mode)")
	case strings.TrimSuffix(iss.Path, "/") != "" || iss.RawQuery != "" || iss.Fragment != "":
		problems = append(problems, "issuer must not have a path, query or fragment")
	}
	if o.DB == nil {
		problems = append(problems, "database is required")
	}
	if o.Keyring == nil {
		problems = append(problems, "secret keyring is required")
	}
	if o.Users == nil || o.Audit == nil || o.Storage == nil {
		problems = append(problems, "user store, audit log and OP storage are required")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("provider: %s", strings.Join(problems, "; "))
	}
	p := &Provider{
		issuer:         strings.TrimSuffix(o.Issuer, "/"),
		host:           iss.Host,
		secure:         iss.Scheme == "https",
		store:          o.Storage,
		db:             o.DB,
		keyring:        o.Keyring,
		users:          o.Users,
		audit:          o.Audit,
		sessions:       o.Sessions,
		render:         o.Renderer,
		after:          o.AfterSignIn,
		throttle:       o.LoginThrottle,
		now:            o.Now,
		metrics:        newMetrics(o.Version),
		access:         o.AccessLog,
		hosts:          append([]string{iss.Host}, o.ExtraHosts...),
		cleanupEvery:   o.CleanupInterval,
		auditRetention: o.AuditRetention,
		changePassword: cmp.Or(o.ChangePasswordURL, "/security-info/password"),
		secondProof:    cmp.Or(o.SecondProofURL, "/security-info/second-proof"),
		stop:           make(chan struct{}),
		done:           make(chan struct{}),
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.formats = cachever.New(o.DB, p.now, cachever.DefaultEvery)
	if p.cleanupEvery <= 0 {
		p.cleanupEvery = 5 * time.Minute
	}
	if p.sessions == nil {
		p.sessions = session.NewStore(o.DB, session.WithTTL(o.SessionTTL), session.WithClock(p.now))
	}
	if p.render == nil {
		if p.render, err = ui.New(); err != nil {
			return nil, fmt.Errorf("provider: %w", err)
		}
	}
	for _, page := range []string{"login", "consent", "logout", "signedin", "error"} {
		if !p.render.Has(page) {
			return nil, fmt.Errorf("provider: template %q missing", page)
		}
	}
	if p.ipx, err = web.IPExtractor(o.TrustedProxies); err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	if p.proxies, err = web.ParseCIDRs(o.TrustedProxies); err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	if err := p.metrics.watchDB(o.DB); err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	o.Audit.Observe(p.metrics.auditEvent)
	if p.op, err = p.newOP(); err != nil {
		return nil, err
	}
	p.callback = op.AuthCallbackURL(p.op)
	return p, nil
}

// newOP builds the zitadel provider with Latchkey's settings.
func (p *Provider) newOP() (*op.Provider, error) {
	cfg := &op.Config{
		CryptoKey:                [32]byte(p.keyring.Derive(opaque.LegacyPurpose)), // replaced by WithCrypto below
		CryptoKeyId:              opaque.LegacyKeyID,
		DefaultLogoutRedirectURI: p.issuer + "/logout",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedUILocales:       uiLocales(),
	}
	opts := []op.Option{
		// CORS is added in Mount, only where browsers' scripts legitimately
		// call cross-origin; the library default reflects any origin with
		// credentials on every route.
		op.WithCORSOptions(nil),
		op.WithHttpInterceptors(opstore.Interceptor, p.opInterceptor, p.tokenClientAuth),
		op.WithCrypto(opaque.New(p.keyring, opaque.MintFormat(p.opaqueFormat))),
	}
	if p.issuerInsecure() {
		opts = append(opts, op.WithAllowInsecure())
	}
	prov, err := op.NewProvider(cfg, &opStorage{Storage: p.store, p: p}, op.StaticIssuer(p.issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("provider: oidc: %w", err)
	}
	return prov, nil
}

// opaqueFormat is the format of the opaque tokens and codes this instance
// mints: the cluster-wide setting `latchkey keys opaque-format` writes,
// read at most once a second. The library's format, which every release
// opens, until the setting says otherwise (also while it cannot be read).
func (p *Provider) opaqueFormat() opaque.Format {
	// No request context reaches the library's Encrypt; the read is one
	// tiny SELECT, at most once per interval.
	return opaque.Format(p.formats.Version(context.Background(), cachever.OpaqueFormat))
}

func (p *Provider) issuerInsecure() bool { return strings.HasPrefix(p.issuer, "http://") }

// Issuer returns the issuer URL.
func (p *Provider) Issuer() string { return p.issuer }

// Sessions returns the browser session store.
func (p *Provider) Sessions() *session.Store { return p.sessions }

// Handler returns the zitadel provider as an http.Handler (for tests and
// tools that do not use Echo).
func (p *Provider) Handler() http.Handler { return p.op }

// opPaths are the OP's routes; they get neither CSRF nor CSP (token,
// revocation and introspection are cross-site POSTs by design).
var opPaths = []string{
	"/.well-known/openid-configuration", "/authorize", "/authorize/callback", "/oauth/token",
	"/oauth/introspect", "/userinfo", "/revoke", "/end_session", "/keys",
}

// Mount registers every route of the provider on e, and sets e's client-IP
// extractor and error handler.
func (p *Provider) Mount(e *echo.Echo) {
	e.IPExtractor = p.ipx
	e.HTTPErrorHandler = web.ErrorHandler(p.render, p.isAPI)
	recoverMW := middleware.RecoverWithConfig(middleware.RecoverConfig{
		// A panic becomes a generic 500 page; the stack goes to the log only.
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			slog.ErrorContext(c.Request().Context(), "panic", "path", c.Request().URL.Path, "err", err, "stack", string(stack))
			return err
		},
	})
	// The request id comes first so every later line can carry it; the
	// access log sits outside the recovery so a panic's 500 is logged too.
	e.Use(web.RequestID(p.proxies))
	if p.access != nil {
		e.Use(web.AccessLog(p.access))
	}
	e.Use(recoverMW, p.metrics.middleware, web.AllowHosts(p.hosts...),
		middleware.BodyLimit("64K"), p.baseHeaders, echo.WrapMiddleware(i18n.MiddlewareClock(p.secure, p.now)))

	// Discovery, JWKS, token and userinfo may be called from browser
	// scripts (SPAs): any origin, never with cookies.
	corsMW := echo.WrapMiddleware(cors.New(cors.Options{
		AllowOriginFunc:  func(string) bool { return true },
		AllowedMethods:   []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "Accept"},
		AllowCredentials: false,
		MaxAge:           600,
	}).Handler)
	opHandler := echo.WrapHandler(p.op)
	e.Any("/.well-known/openid-configuration", p.getDiscovery, corsMW)
	e.Any("/keys", p.getJWKS, corsMW)
	for _, path := range []string{"/oauth/token", "/userinfo"} {
		e.Any(path, opHandler, corsMW)
	}
	for _, path := range []string{"/authorize", "/authorize/callback", "/oauth/introspect", "/revoke", "/end_session"} {
		e.Any(path, opHandler)
	}
	page := []echo.MiddlewareFunc{web.SecurityHeaders(p.secure), web.NoStore(), web.CSRF(p.secure), p.signInLanguage}
	e.GET("/login", p.getLogin, page...)
	e.POST("/login", p.postLogin, page...)
	e.GET("/consent", p.getConsent, page...)
	e.POST("/consent", p.postConsent, page...)
	e.GET("/logout", p.getLogout, page...)
	e.POST("/logout", p.postLogout, page...)
	e.GET("/", p.getAccount, page...)
	e.GET("/static/brand.css", echo.WrapHandler(p.render.BrandStyle()), web.SecurityHeaders(p.secure))
	e.GET("/static/*", echo.WrapHandler(ui.Static()), web.SecurityHeaders(p.secure))
	e.GET("/healthz", p.healthz)
	e.GET("/readyz", p.readyz)
}

// baseHeaders go on every response, OP endpoints included: HSTS under
// https and no MIME sniffing. Pages add CSP and the rest (web.SecurityHeaders).
func (p *Provider) baseHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if p.secure {
			h.Set("Strict-Transport-Security", web.HSTS)
		}
		return next(c)
	}
}

func (p *Provider) isAPI(r *http.Request) bool {
	switch r.URL.Path {
	case "/healthz", "/readyz":
		return true
	}
	if strings.HasPrefix(r.URL.Path, "/admin/api/") {
		return true
	}
	for _, path := range opPaths {
		if r.URL.Path == path && path != "/authorize" && path != "/authorize/callback" && path != "/end_session" {
			return true
		}
	}
	return web.DefaultIsAPI(r)
}

func (p *Provider) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 503 until the database answers, so a load balancer stops
// sending sign-ins to an instance that cannot complete them.
func (p *Provider) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	sqlDB, err := p.db.DB()
	if err == nil {
		err = sqlDB.PingContext(ctx)
	}
	if err != nil {
		slog.WarnContext(ctx, "readyz: database unavailable", "err", err)
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// Start runs the background cleanup of expired auth requests, codes,
// tokens, sessions and bindings every CleanupInterval until Close. Every
// instance may run it: each pass is idempotent.
func (p *Provider) Start() {
	p.startOnce.Do(func() {
		go func() {
			defer close(p.done)
			t := time.NewTicker(p.cleanupEvery)
			defer t.Stop()
			for {
				select {
				case <-p.stop:
					return
				case <-t.C:
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					p.Cleanup(ctx)
					cancel()
				}
			}
		}()
	})
}

// Cleanup runs one cleanup pass (Start calls it periodically).
func (p *Provider) Cleanup(ctx context.Context) {
	if err := p.store.Cleanup(ctx); err != nil && !errors.Is(err, context.Canceled) {
		slog.WarnContext(ctx, "cleanup: oidc storage", "err", err)
	}
	for range 20 { // bounded batches keep each pass short
		n, err := p.sessions.Cleanup(ctx, 500)
		if err != nil {
			slog.WarnContext(ctx, "cleanup: sessions", "err", err)
		}
		if n < 500 {
			break
		}
	}
	if _, err := p.sessions.CleanupBindings(ctx, 500); err != nil {
		slog.WarnContext(ctx, "cleanup: bindings", "err", err)
	}
	if _, err := p.users.CleanupLockouts(ctx, p.now().Add(-lockoutMemory)); err != nil {
		slog.WarnContext(ctx, "cleanup: lockouts of unknown names", "err", err)
	}
	if _, err := p.users.CleanupSetupLinks(ctx, p.now(), 500); err != nil {
		slog.WarnContext(ctx, "cleanup: setup links", "err", err)
	}
	if p.auditRetention > 0 {
		// At most 20 batches a pass: a backlog (retention just turned on)
		// drains over several passes instead of one long one.
		if _, err := p.audit.PruneAll(ctx, p.now().Add(-p.auditRetention), audit.DefaultPruneBatch, 20); err != nil {
			slog.WarnContext(ctx, "cleanup: audit retention", "err", err)
		}
	}
}

// Close stops the cleanup goroutine started by Start and waits for the
// pass in progress, if any. It does not close the database.
func (p *Provider) Close() error {
	started := false
	p.startOnce.Do(func() { close(p.done) }) // never started: nothing to wait for
	p.stopOnce.Do(func() { close(p.stop); started = true })
	if started {
		<-p.done
	}
	return nil
}

// uiLocales are the languages of the pages, for discovery's
// ui_locales_supported.
func uiLocales() []language.Tag {
	var tags []language.Tag
	for _, l := range i18n.Languages() {
		tags = append(tags, language.MustParse(l.Tag))
	}
	return tags
}
