package console

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui"
)

// Names users rely on.
const (
	// Path is where the console lives.
	Path = "/admin"
	// ClientID is the console's client, registered at every start.
	ClientID = "latchkey-console"
	// CallbackPath is its redirect URI below the issuer.
	CallbackPath = Path + "/callback"
	// Freshness is how recent the two-proof sign-in must be (the admin
	// API's rule; max_age asks the sign-in page for it).
	Freshness = 15 * time.Minute
	// Scope is the admin API's scope the console asks for.
	Scope = "latchkey:admin"
)

// RedirectURI is the console's redirect URI for issuer.
func RedirectURI(issuer string) string { return strings.TrimRight(issuer, "/") + CallbackPath }

// ClientSecret is the console client's secret, derived from the keyring:
// every instance with the same LATCHKEY_SECRET agrees on it, and none
// stores it.
func ClientSecret(k *secret.Keyring) string {
	sum := sha256.Sum256(k.Derive("admin-console-client-secret"))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Users is what the console reads of the directory: whether the signed-in
// person is still an enabled admin, at every request.
type Users interface {
	ByID(ctx context.Context, id string) (*user.User, error)
}

// Config is the console's wiring. Every field but Now is required.
type Config struct {
	Issuer   string
	Secret   string       // ClientSecret(keyring)
	Handler  http.Handler // the issuer's handler: back-channel calls go to it in-process
	Renderer *ui.Renderer
	Keys     *secret.Keyring
	Users    Users
	Now      func() time.Time
}

// Console is the mounted admin console.
type Console struct {
	cfg    Config
	origin string
	jar    *jar
	http   *http.Client
	api    *api

	mu       sync.Mutex
	provider *oidc.Provider // discovered at the first sign-in
}

// New checks the configuration and builds the console.
func New(cfg Config) (*Console, error) {
	if cfg.Issuer == "" || cfg.Secret == "" || cfg.Handler == nil || cfg.Renderer == nil || cfg.Keys == nil || cfg.Users == nil {
		return nil, errors.New("console: issuer, secret, handler, renderer, keys and users are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	iss, err := url.Parse(cfg.Issuer)
	if err != nil || iss.Host == "" {
		return nil, fmt.Errorf("console: issuer %q is not a URL", cfg.Issuer)
	}
	hc := &http.Client{Transport: &Transport{Origin: iss, Handler: cfg.Handler}, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	k := &Console{cfg: cfg, origin: iss.Scheme + "://" + iss.Host, jar: newJar(cfg.Keys, iss.Scheme == "https"), http: hc}
	k.api = &api{base: strings.TrimRight(cfg.Issuer, "/") + "/admin/api/v1", http: hc}
	return k, nil
}

// page is a console handler: it runs only for a fresh admin session.
type page func(c echo.Context, s *session) error

// Mount registers the console's routes on e, under the same headers as
// every other page.
func (k *Console) Mount(e *echo.Echo) {
	g := e.Group(Path, web.SecurityHeaders(k.jar.secure), web.NoStore(), noReferrer)
	g.GET("/callback", k.callback)
	for _, r := range k.routes() {
		g.Add(r.method, r.path, k.admin(r.h))
	}
}

// route is one console page.
type route struct {
	method, path string
	h            page
}

// routes lists every page; each is reached only through admin(). Adding a
// page is one line here and its handler.
func (k *Console) routes() []route {
	return append([]route{
		{http.MethodGet, "", k.home},
		{http.MethodPost, "/sign-out", k.signOut},
		{http.MethodGet, "/apps", k.appList},
		{http.MethodGet, "/apps/new", k.appNew},
		{http.MethodPost, "/apps/new", k.appCreate},
		{http.MethodGet, "/apps/:id", k.appShow},
		{http.MethodGet, "/apps/:id/edit", k.appEdit},
		{http.MethodPost, "/apps/:id/edit", k.appUpdate},
		{http.MethodGet, "/apps/:id/delete", k.appDeleteConfirm},
		{http.MethodPost, "/apps/:id/delete", k.appDelete},
		{http.MethodGet, "/apps/:id/secret", k.appSecretForm},
		{http.MethodPost, "/apps/:id/secret", k.appSecret},
		{http.MethodGet, "/policy", k.policyShow},
		{http.MethodPost, "/policy", k.policySave},
		{http.MethodGet, "/audit", k.auditList},
		{http.MethodGet, "/audit/export", k.auditExport},
		{http.MethodGet, "/reports", k.reportList},
		{http.MethodGet, "/reports/:name", k.reportShow},
	}, append(k.userRoutes(), k.questionRoutes()...)...)
}

// Routes lists the console's paths as method and path (":id" for an app),
// for the test that walks every one of them signed out.
func (k *Console) Routes() [][2]string {
	var out [][2]string
	for _, r := range k.routes() {
		out = append(out, [2]string{r.method, Path + r.path})
	}
	return out
}

func noReferrer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Referrer-Policy", "no-referrer")
		return next(c)
	}
}

// errNotAdmin is the page of a signed-in person who is not (or no longer)
// an administrator.
var errNotAdmin = &web.PageError{Status: http.StatusForbidden, Title: "console.error.not_admin_title",
	Message: "console.error.not_admin", Link: "/security-info", LinkText: "console.error.to_security_info"}

// admin is the gate of every console page: a sealed session whose
// two-proof sign-in is under 15 minutes old and whose access token lives,
// of a user who is still an enabled admin; forms also pass the CSRF and
// Origin checks. Without one the browser is sent to sign in and comes back
// to the page it asked for.
func (k *Console) admin(h page) echo.HandlerFunc {
	return func(c echo.Context) error {
		var s session
		now := k.cfg.Now()
		if !k.jar.get(c, sessionCookie, &s) || now.Sub(s.AuthTime) > Freshness || !now.Before(s.Expires) {
			return k.signIn(c, k.returnTo(c))
		}
		u, err := k.cfg.Users.ByID(c.Request().Context(), s.Subject)
		switch {
		case errors.Is(err, user.ErrNotFound) || err == nil && u.Disabled:
			k.jar.clear(c, sessionCookie)
			return k.signIn(c, Path)
		case err != nil:
			return err
		case !u.Admin:
			k.jar.clear(c, sessionCookie)
			return errNotAdmin
		}
		if c.Request().Method != http.MethodGet {
			if err := k.checkForm(c, &s); err != nil {
				return err
			}
		}
		c.SetRequest(c.Request().WithContext(withBrowser(c.Request().Context(), c.Request())))
		err = h(c, &s)
		if errors.Is(err, errSignInAgain) {
			// The API turned the token away (revoked, expired): sign in again.
			k.jar.clear(c, sessionCookie)
			return k.signIn(c, k.returnTo(c))
		}
		if errors.Is(err, errNotAdmin) {
			k.jar.clear(c, sessionCookie)
		}
		return err
	}
}

// returnTo is where a sign-in started for this request comes back to:
// the page itself for a GET, the console's home after a form (its answer
// could not be replayed anyway).
func (k *Console) returnTo(c echo.Context) string {
	if c.Request().Method == http.MethodGet {
		return cleanNext(c.Request().URL.RequestURI())
	}
	return Path
}

// cleanNext keeps s only when it is a console page of this server
// (never another host, never the API): it becomes a redirect.
func cleanNext(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || len(s) > 512 ||
		strings.ContainsAny(s, "\\\r\n\t\x00") || strings.Contains(u.Path, "..") || strings.HasPrefix(s, "//") ||
		(u.Path != Path && !strings.HasPrefix(u.Path, Path+"/")) || strings.HasPrefix(u.Path, Path+"/api/") ||
		u.Path == CallbackPath {
		return Path
	}
	return u.RequestURI()
}
