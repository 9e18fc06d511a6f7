package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
)

// Names users rely on.
const (
	// Scope is the admin API's scope.
	Scope = "latchkey:admin"
	// Freshness is how recent an admin's two-proof sign-in must be.
	Freshness = 15 * time.Minute
	// Prefix is where the API is mounted.
	Prefix = "/admin/api/v1"
	// OpenAPIPath serves the OpenAPI 3.1 document.
	OpenAPIPath = "/admin/api/openapi.json"
)

// Token is a verified access token of this issuer.
type Token struct {
	ClientID string
	Subject  string // the user, or the client for client credentials
	Scopes   []string
	// User is true for a user's token, false for client credentials.
	User bool
	// AuthTime is when the user signed in for this token (zero: unknown);
	// TwoProofs whether that sign-in had two kinds of proof.
	AuthTime  time.Time
	TwoProofs bool
}

// ErrInvalidToken is what a Tokens implementation returns for a token
// that is malformed, of another issuer, expired or revoked.
var ErrInvalidToken = errors.New("admin: invalid access token")

// Tokens verifies bearer tokens through the provider's own keys and token
// store.
type Tokens interface {
	Verify(ctx context.Context, raw string) (*Token, error)
}

// Users is what the API needs of the user directory.
type Users interface {
	ByID(ctx context.Context, id string) (*user.User, error)
}

// Endpoints are the issuer's URLs the "how to connect" snippets name.
type Endpoints struct {
	Issuer, Discovery, Authorization, Token, UserInfo, EndSession, JWKS string
}

// Deps are the API's collaborators. Tokens, Users, Apps, Audit, Limiter
// and DB are required.
type Deps struct {
	Tokens  Tokens
	Users   Users
	Apps    Apps
	Audit   *audit.Log
	Limiter *ratelimit.Limiter
	DB      *gorm.DB // Idempotency-Key records
	// Keys seal the stored answers (a create's answer holds the new
	// client secret, which must not rest in clear).
	Keys      *secret.Keyring
	Endpoints Endpoints
	Ops       OpsDeps
	// UserAdmin backs the user operations (required).
	UserAdmin *UserAdmin
	Now       func() time.Time
	// PerIP and PerCaller bound the request rate (defaults below).
	PerIP, PerCaller ratelimit.Rule
}

// Default rate limits: generous for scripts, tight enough that a stolen
// token or a token-guessing address cannot hammer the database.
var (
	DefaultPerIP     = ratelimit.Rule{Scope: "admin-api-ip", Limit: 600, Window: time.Minute}
	DefaultPerCaller = ratelimit.Rule{Scope: "admin-api-caller", Limit: 300, Window: time.Minute}
)

// API is the mounted admin API.
type API struct {
	d      Deps
	idem   *idempotency
	routes []route
}

type route struct {
	method, path string // path in OpenAPI form, below Prefix
	h            echo.HandlerFunc
}

// New checks the dependencies and builds the API.
func New(d Deps) (*API, error) {
	if d.Tokens == nil || d.Users == nil || d.Apps == nil || d.Audit == nil || d.Limiter == nil || d.DB == nil || d.Keys == nil {
		return nil, errors.New("admin: tokens, users, apps, audit, limiter, database and keys are required")
	}
	if err := d.Ops.check(); err != nil {
		return nil, err
	}
	if ua := d.UserAdmin; ua == nil || ua.Users == nil || ua.Accounts == nil || ua.Ops == nil || ua.Methods == nil || ua.Sessions == nil {
		return nil, errors.New("admin: the user operations (users, accounts, ops, methods, sessions) are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.PerIP.Limit == 0 {
		d.PerIP = DefaultPerIP
	}
	if d.PerCaller.Limit == 0 {
		d.PerCaller = DefaultPerCaller
	}
	a := &API{d: d, idem: &idempotency{g: d.DB, now: d.Now, box: d.Keys.Box("admin-idempotency")}}
	a.routes = []route{
		{http.MethodGet, "/apps", a.listApps},
		{http.MethodPost, "/apps", a.createApp},
		{http.MethodGet, "/apps/{id}", a.getApp},
		{http.MethodPatch, "/apps/{id}", a.updateApp},
		{http.MethodDelete, "/apps/{id}", a.deleteApp},
		{http.MethodPost, "/apps/{id}/secret", a.regenerateSecret},
		{http.MethodGet, "/apps/{id}/connect", a.connectApp},
	}
	a.routes = append(a.routes, a.opsRoutes()...)
	a.routes = append(a.routes, a.userRoutes()...)
	a.routes = append(a.routes, a.questionRoutes()...)
	if _, err := openAPIJSON(); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	return a, nil
}

// Route is one registered operation: method and path as the OpenAPI
// document writes it (/admin/api/v1/apps/{id}).
type Route struct{ Method, Path string }

// Routes lists the operations under Prefix.
func (a *API) Routes() []Route {
	out := make([]Route, len(a.routes))
	for i, r := range a.routes {
		out[i] = Route{r.method, Prefix + r.path}
	}
	return out
}

// echoPath turns /apps/{id} into /apps/:id.
func echoPath(p string) string {
	p = strings.ReplaceAll(p, "{", ":")
	return strings.ReplaceAll(p, "}", "")
}

// Mount registers the API and its OpenAPI document on e.
func (a *API) Mount(e *echo.Echo) {
	e.GET(OpenAPIPath, a.serveOpenAPI, apiHeaders)
	g := e.Group(Prefix, apiHeaders, a.limitIP, a.authenticate, a.limitCaller)
	for _, r := range a.routes {
		h := r.h
		if r.method != http.MethodGet {
			h = a.idempotent(h)
		}
		g.Add(r.method, echoPath(r.path), answer(h))
	}
	// Anything else under the prefix is a problem too, never an HTML page.
	g.Any("/*", answer(a.noRoute))
	g.Any("", answer(a.noRoute))
}

// noRoute answers 405 with Allow for a known path asked with another
// method, else 404.
func (a *API) noRoute(c echo.Context) error {
	path := strings.TrimPrefix(c.Request().URL.Path, Prefix)
	var allow []string
	for _, r := range a.routes {
		if samePath(r.path, path) {
			allow = append(allow, r.method)
		}
	}
	if len(allow) == 0 {
		return notFound("no such operation")
	}
	return newProblem(http.StatusMethodNotAllowed, "about:blank", "this operation does not accept "+c.Request().Method).
		with("Allow", strings.Join(allow, ", "))
}

// samePath matches /apps/{id} against /apps/wiki.
func samePath(pattern, path string) bool {
	ps, xs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i := range ps {
		if strings.HasPrefix(ps[i], "{") {
			if xs[i] == "" {
				return false
			}
		} else if ps[i] != xs[i] {
			return false
		}
	}
	return true
}

// answer writes a handler's error as a problem, so everything around it
// (idempotency, the access log) sees the final response.
func answer(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := h(c); err != nil {
			writeError(c, err)
		}
		return nil
	}
}

// apiHeaders: responses are data, never cached, never rendered.
func apiHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		return next(c)
	}
}

func (a *API) limit(c echo.Context, r ratelimit.Rule, key string) error {
	ok, wait, err := r.Allow(c.Request().Context(), a.d.Limiter, key)
	if err != nil {
		return err
	}
	if !ok {
		secs := max(int64(1), int64((wait+time.Second-1)/time.Second))
		return newProblem(http.StatusTooManyRequests, typeRateLimited, "too many requests; try again later").
			with("Retry-After", fmt.Sprint(secs))
	}
	return nil
}

// limitIP runs before authentication, so guessing tokens is limited too.
func (a *API) limitIP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := a.limit(c, a.d.PerIP, c.RealIP()); err != nil {
			writeError(c, err)
			return nil
		}
		return next(c)
	}
}

func (a *API) limitCaller(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := a.limit(c, a.d.PerCaller, callerOf(c).id()); err != nil {
			writeError(c, err)
			return nil
		}
		return next(c)
	}
}

// record writes the audit event of an admin action.
func (a *API) record(c echo.Context, typ, outcome, detail string) error {
	return a.d.Audit.Record(c.Request().Context(), a.event(c, typ, outcome, detail))
}
