package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/admin"
	"github.com/latchkeyid/latchkey/plugin/compose"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/provider/config"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/password"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
	"github.com/latchkeyid/latchkey/provider/session"
	"github.com/latchkeyid/latchkey/provider/user"
)

// Admin API tests run against a real provider (real tokens from its token
// endpoint, real sign-ins) with the API mounted by the same wiring as
// serve, on SQLite and MySQL. Every response is checked against the
// OpenAPI document.

const (
	opsClient = "ops"
	opsSecret = "ops-secret-0123456789abcdefghijklmnopqrst" // #nosec G101 -- test fixture
)

type apiEnv struct {
	t      *testing.T
	s      *pt.Server
	x      *plugintest.Env // the plugin beside the API
	api    *admin.API
	router routers.Router
	admin  *user.User // an administrator (alice is not)
	app    *app       // the configuration the API was wired with
	// validated counts responses checked against the document.
	validated atomic.Int64
}

func openAPIRouter(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(admin.OpenAPI())
	if err != nil {
		t.Fatalf("openapi: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi document invalid: %v", err)
	}
	r, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, r
}

// startAdminAPI runs a provider with the plugin and the admin API, wired
// as serve wires them; perCaller, when set, replaces the default
// per-caller rate limit.
func startAdminAPI(t *testing.T, dbURL string, perCaller ratelimit.Rule) *apiEnv {
	return startAPI(t, dbURL, perCaller, false)
}

// startAPI is startAdminAPI, with mail through a real SMTP server on
// loopback when smtp is set (e.x.SMTP).
func startAPI(t *testing.T, dbURL string, perCaller ratelimit.Rule, smtp bool) *apiEnv {
	t.Helper()
	e := &apiEnv{t: t}
	_, e.router = openAPIRouter(t)
	e.x = plugintest.Start(t, dbURL, plugintest.Options{Methods: []string{"email"}, SMTP: smtp,
		Mount: func(s *pt.Server, ec *echo.Echo, sspr *compose.SSPR) {
			e.api, e.app = mountTestAdminAPI(t, s, ec, sspr, perCaller)
		}})
	e.s = e.x.Server
	ctx := t.Context()
	if _, _, err := e.s.OPStore.CreateClient(ctx, opstore.NewClient{ID: opsClient, Name: "Ops", Secret: opsSecret, AdminAPI: true}); err != nil {
		t.Fatal(err)
	}
	var err error
	e.admin, err = e.s.Users.Create(ctx, user.NewUser{Username: "root", Email: "root@example.com", Password: pt.Password, Admin: true})
	if err != nil {
		t.Fatal(err)
	}
	// Passwords set an hour ago, so sign-ins of the last minutes stand (a
	// grant from a sign-in older than the password is refused).
	if err := e.s.DB.Model(&user.User{}).Where("1 = 1").Updates(map[string]any{"password_changed_at": e.s.Clock.Now().Add(-time.Hour), "signed_out_at": e.s.Clock.Now().Add(-time.Hour)}).Error; err != nil {
		t.Fatal(err)
	}
	return e
}

// testApp is the configuration cmd's admin wiring reads in tests.
func testApp(issuer string) *app {
	// SMTP configured, no phone gateway: email is available, phones not.
	return &app{cfg: config.Config{Issuer: issuer, AccessTokenLifetime: 10 * time.Minute,
		IDTokenLifetime: time.Hour, RefreshTokenLifetime: 720 * time.Hour,
		SMTPURL: "smtp://127.0.0.1:2525", AuditRetentionDays: testRetentionDays}}
}

// mountTestAdminAPI mounts the admin API on ec as serve does, on the test
// server's stores and clock, and returns it with the configuration it was
// wired with.
func mountTestAdminAPI(t testing.TB, s *pt.Server, ec *echo.Echo, sspr *compose.SSPR, perCaller ratelimit.Rule) (*admin.API, *app) {
	iss := s.URL
	a := testApp(iss)
	ua := userAdmin(s.DB, s.Users, s.Accounts, password.DefaultPolicy, sspr, nil)
	ua.Ops.Now, ua.Sessions = s.Clock.Now, adminSessions{session.NewStore(s.DB, session.WithClock(s.Clock.Now))}
	api, err := admin.New(admin.Deps{
		Tokens: adminTokens{s.Provider}, Users: s.Users, Apps: adminApps{st: s.OPStore, a: a}, Audit: s.Audit,
		Limiter: ratelimit.New(s.DB, ratelimit.WithClock(s.Clock.Now)), DB: s.DB, Keys: s.Keyring, Now: s.Clock.Now,
		PerCaller: perCaller, UserAdmin: ua, Ops: a.adminOps(s.DB, s.Keyring, s.Clock.Now),
		Endpoints: admin.Endpoints{
			Issuer: iss, Discovery: iss + "/.well-known/openid-configuration", Authorization: iss + "/authorize",
			Token: iss + "/oauth/token", UserInfo: iss + "/userinfo", EndSession: iss + "/end_session", JWKS: iss + "/keys",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	api.Mount(ec)
	return api, a
}

// clientToken gets a client-credentials token from the token endpoint.
func (e *apiEnv) clientToken(client, secret, scope string) string {
	e.t.Helper()
	status, body := e.s.PostForm(e.t, "/oauth/token", client, secret, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}})
	tok, _ := body["access_token"].(string)
	if status != http.StatusOK || tok == "" {
		e.t.Fatalf("client credentials for %s: %d %v", client, status, body)
	}
	return tok
}

// userToken signs u in (a live browser session whose proofs were amr,
// authAgo ago, as the sign-in page records it) and returns the access
// token a real RP gets for the scope latchkey:admin.
func (e *apiEnv) userToken(u *user.User, amr []string, authAgo time.Duration) string {
	e.t.Helper()
	ctx := e.t.Context()
	authTime := e.s.Clock.Now().Add(-authAgo)
	sess, sessTok, err := session.NewStore(e.s.DB, session.WithClock(e.s.Clock.Now)).Create(ctx, nil, u.ID, amr, authTime)
	if err != nil {
		e.t.Fatal(err)
	}
	rp := e.s.NewRP(e.t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid", admin.Scope)
	b := e.s.NewBrowser(e.t)
	// The browser holds the session, as after the sign-in page.
	iss, _ := url.Parse(e.s.URL)
	b.Jar.SetCookies(iss, []*http.Cookie{{Name: "__Host-lk_session", Value: sessTok, Path: "/", Secure: true}})
	h := b.Authorize(rp)
	if err := e.s.OPStore.CompleteAuthRequest(ctx, h.ID, u.ID, sess.ID, authTime, amr); err != nil {
		e.t.Fatal(err)
	}
	code := pt.CodeOf(b.Get(e.s.CallbackURL(h.ID)))
	tok, err := rp.Exchange(ctx, h.Auth, code)
	if err != nil {
		e.t.Fatalf("exchange for %s (%v, %s ago): %v", u.Username, amr, authAgo, err)
	}
	return tok.OAuth.AccessToken
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response %d is not JSON: %v\n%s", r.status, err, r.body)
	}
}

func (r reply) problem(t *testing.T) admin.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != admin.MIMEProblem {
		t.Fatalf("content type %q, want %s: %s", ct, admin.MIMEProblem, r.body)
	}
	var p admin.Problem
	r.json(t, &p)
	if p.Status != r.status || p.Type == "" || p.Title == "" {
		t.Fatalf("problem %+v does not match status %d", p, r.status)
	}
	return p
}

// call sends one API request and validates the response against the
// OpenAPI document.
func (e *apiEnv) call(method, path, token string, body any, hdr ...string) reply {
	e.t.Helper()
	var rd io.Reader
	var raw []byte
	if body != nil {
		switch b := body.(type) {
		case string:
			raw = []byte(b)
		default:
			raw, _ = json.Marshal(b)
		}
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequestWithContext(e.t.Context(), method, e.s.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.s.HTTP.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	e.validate(req, raw, res, out)
	return reply{res.StatusCode, res.Header, out}
}

// parallel sends n requests at once (body(i) for the i-th) and returns
// their statuses.
func (e *apiEnv) parallel(n int, method, path, token string, body func(i int) any, hdr ...string) []int {
	e.t.Helper()
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			raw, _ := json.Marshal(body(i))
			req, _ := http.NewRequest(method, e.s.URL+path, bytes.NewReader(raw))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			for k := 0; k+1 < len(hdr); k += 2 {
				req.Header.Set(hdr[k], hdr[k+1])
			}
			res, err := e.s.HTTP.Client().Do(req)
			if err != nil {
				e.t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			statuses[i] = res.StatusCode
		}()
	}
	wg.Wait()
	return statuses
}

// validate checks a response of a documented operation against the
// document (status, content type, schema).
func (e *apiEnv) validate(req *http.Request, reqBody []byte, res *http.Response, body []byte) {
	e.t.Helper()
	vreq := req.Clone(context.Background())
	vreq.URL, _ = url.Parse(req.URL.Path + "?" + req.URL.RawQuery)
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := e.router.FindRoute(vreq)
	if err != nil || route.Operation == nil || route.Method != vreq.Method || res.StatusCode == http.StatusMethodNotAllowed {
		return // not a documented operation (e.g. a deliberately unknown path or method)
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: &openapi3filter.Options{IncludeResponseStatus: true},
	})
	e.validated.Add(1)
	if err != nil {
		e.t.Errorf("%s %s: response %d does not match the OpenAPI document: %v\n%s", req.Method, req.URL.Path, res.StatusCode, err, body)
	}
}

func eachAPI(t *testing.T, fn func(t *testing.T, e *apiEnv)) {
	t.Helper()
	dbtest.Each(t, func(t *testing.T, u string) { fn(t, startAdminAPI(t, u, ratelimit.Rule{})) })
}

func wantChallenge(t *testing.T, r reply, status int, code string, extra ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	r.problem(t)
	h := r.header.Get("WWW-Authenticate")
	if !strings.HasPrefix(h, "Bearer ") || (code != "" && !strings.Contains(h, `error="`+code+`"`)) {
		t.Fatalf("WWW-Authenticate %q, want error=%q", h, code)
	}
	for _, x := range extra {
		if !strings.Contains(h, x) {
			t.Fatalf("WWW-Authenticate %q lacks %s", h, x)
		}
	}
}

func TestAdminAPIAuthorization(t *testing.T) {
	eachAPI(t, func(t *testing.T, e *apiEnv) {
		ctx := t.Context()
		// Another issuer's tokens, opaque and JWT, of a client with the
		// same id and the admin flag there.
		other := pt.Start(t, dbtest.URL(t, dbtest.SQLite), pt.Config{})
		if _, _, err := other.OPStore.CreateClient(ctx, opstore.NewClient{ID: opsClient, Secret: opsSecret, AdminAPI: true}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := other.OPStore.CreateClient(ctx, opstore.NewClient{ID: "ops-jwt", Secret: opsSecret, AdminAPI: true, AccessTokenType: "jwt"}); err != nil {
			t.Fatal(err)
		}
		otherEnv := &apiEnv{t: t, s: other}
		if _, _, err := e.s.OPStore.CreateClient(ctx, opstore.NewClient{ID: "ops-jwt", Secret: opsSecret, AdminAPI: true, AccessTokenType: "jwt"}); err != nil {
			t.Fatal(err)
		}
		alice := e.s.User
		revoked := e.clientToken(opsClient, opsSecret, admin.Scope)
		if code := e.s.Revoke(t, opsClient, opsSecret, revoked, "access_token"); code != http.StatusOK {
			t.Fatalf("revoke: %d", code)
		}
		fresh2 := []string{"pwd", "otp"}
		for _, tc := range []struct {
			name   string
			token  string
			status int
			code   string
			extra  []string
		}{
			{"no-token", "", 401, "", nil},
			{"malformed", "not-a-token", 401, "invalid_token", nil},
			{"jwt-shaped-garbage", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", 401, "invalid_token", nil},
			{"revoked", revoked, 401, "invalid_token", nil},
			{"other-issuer-opaque", otherEnv.clientToken(opsClient, opsSecret, admin.Scope), 401, "invalid_token", nil},
			{"other-issuer-jwt", otherEnv.clientToken("ops-jwt", opsSecret, admin.Scope), 401, "invalid_token", nil},
			{"client-without-admin-scope", e.clientToken(pt.ServiceClient, pt.ServiceSecret, "api"), 403, "insufficient_scope", []string{`scope="latchkey:admin"`}},
			{"admin-client-not-asking-the-scope", e.clientToken(opsClient, opsSecret, ""), 403, "insufficient_scope", nil},
			{"normal-user", e.userToken(alice, fresh2, time.Minute), 403, "insufficient_scope", nil},
			{"admin-one-proof", e.userToken(e.admin, []string{"pwd"}, time.Minute), 401, "insufficient_user_authentication", []string{"max_age=900", `acr_values="mfa"`}},
			{"admin-stale-sign-in", e.userToken(e.admin, fresh2, 16*time.Minute), 401, "insufficient_user_authentication", []string{"max_age=900"}},
			{"admin-fresh-two-proofs", e.userToken(e.admin, fresh2, time.Minute), 200, "", nil},
			{"admin-client", e.clientToken(opsClient, opsSecret, admin.Scope), 200, "", nil},
			{"admin-client-jwt", e.clientToken("ops-jwt", opsSecret, admin.Scope), 200, "", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.call(http.MethodGet, admin.Prefix+"/apps", tc.token, nil)
				if tc.status == 200 {
					if r.status != 200 {
						t.Fatalf("status %d: %s", r.status, r.body)
					}
					return
				}
				wantChallenge(t, r, tc.status, tc.code, tc.extra...)
			})
		}
		t.Run("refusals-audited", func(t *testing.T) {
			denied := map[string]int{}
			for _, ev := range e.s.AuditEvents(t, "admin.api.denied") {
				if ev.Outcome == "denied" && ev.IP != "" {
					denied[ev.UserID]++
				}
			}
			// alice (not an admin), root twice (one proof, stale), the
			// service client and ops without the scope; never the
			// anonymous or forged tokens.
			if denied[alice.ID] != 1 || denied[e.admin.ID] != 2 || denied["client:"+pt.ServiceClient] != 1 || denied["client:"+opsClient] != 1 || len(denied) != 4 {
				t.Fatalf("denied records %v", denied)
			}
		})
		t.Run("expired", func(t *testing.T) {
			tok := e.clientToken(opsClient, opsSecret, admin.Scope)
			adminTok := e.userToken(e.admin, fresh2, 0)
			if r := e.call(http.MethodGet, admin.Prefix+"/apps", adminTok, nil); r.status != 200 {
				t.Fatalf("fresh admin: %d %s", r.status, r.body)
			}
			e.s.Clock.Advance(opstore.DefaultAccessTTL + time.Minute) // past the tokens' lifetime
			wantChallenge(t, e.call(http.MethodGet, admin.Prefix+"/apps", tok, nil), 401, "invalid_token")
			wantChallenge(t, e.call(http.MethodGet, admin.Prefix+"/apps", adminTok, nil), 401, "invalid_token")
		})
		t.Run("admin-flag-removed", func(t *testing.T) {
			tok := e.userToken(e.admin, fresh2, 0)
			if err := e.s.Users.SetAdmin(ctx, e.admin.ID, false); err != nil {
				t.Fatal(err)
			}
			defer e.s.Users.SetAdmin(ctx, e.admin.ID, true)
			wantChallenge(t, e.call(http.MethodGet, admin.Prefix+"/apps", tok, nil), 403, "insufficient_scope")
		})
		t.Run("client-flag-removed", func(t *testing.T) {
			tok := e.clientToken(opsClient, opsSecret, admin.Scope)
			off := false
			if _, err := e.s.OPStore.UpdateClient(ctx, opsClient, opstore.ClientChange{AdminAPI: &off}); err != nil {
				t.Fatal(err)
			}
			wantChallenge(t, e.call(http.MethodGet, admin.Prefix+"/apps", tok, nil), 403, "insufficient_scope")
		})
	})
}

// wantFields checks a 400 validation problem names exactly these fields.
func wantFields(t *testing.T, r reply, fields ...string) {
	t.Helper()
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400: %s", r.status, r.body)
	}
	p := r.problem(t)
	got := map[string]bool{}
	for _, fe := range p.Errors {
		got[fe.Field] = true
	}
	for _, f := range fields {
		if !got[f] {
			t.Fatalf("problem %+v lacks field %q", p.Errors, f)
		}
	}
	if len(got) != len(fields) {
		t.Fatalf("problem fields %v, want %v", p.Errors, fields)
	}
}

func auditCount(t *testing.T, e *apiEnv, typ, outcome, detail string) int {
	t.Helper()
	n := 0
	for _, ev := range e.s.AuditEvents(t, typ) {
		if ev.Outcome == outcome && strings.Contains(ev.Detail, detail) && ev.UserID == "client:"+opsClient && ev.IP != "" {
			n++
		}
	}
	return n
}

func TestAdminAPIApps(t *testing.T) {
	eachAPI(t, func(t *testing.T, e *apiEnv) {
		tok := e.clientToken(opsClient, opsSecret, admin.Scope)
		p := admin.Prefix
		var created admin.Created
		t.Run("create", func(t *testing.T) {
			r := e.call(http.MethodPost, p+"/apps", tok, map[string]any{
				"id": "wiki", "name": "Team Wiki", "redirect_uris": []string{"https://wiki.example/cb"},
				"post_logout_redirect_uris": []string{"https://wiki.example/"}, "id_token_alg": "ES256",
				"access_token_type": "jwt", "access_token_ttl": 300, "third_party": true,
			})
			if r.status != http.StatusCreated || r.header.Get("Location") != p+"/apps/wiki" {
				t.Fatalf("create: %d %s", r.status, r.body)
			}
			r.json(t, &created)
			a := created.App
			if len(created.ClientSecret) < 43 || a.ID != "wiki" || a.IDTokenAlg != "ES256" || a.AccessTokenType != "jwt" ||
				a.AccessTokenTTL != 300 || !a.ThirdParty || a.Public || len(a.GrantTypes) != 2 {
				t.Fatalf("created %+v", created)
			}
			if auditCount(t, e, "admin.client.create", "ok", "client=wiki") != 1 {
				t.Fatal("no audit record for the create")
			}
		})
		t.Run("secret-never-shown-again", func(t *testing.T) {
			for _, path := range []string{p + "/apps/wiki", p + "/apps", p + "/apps/wiki/connect"} {
				if r := e.call(http.MethodGet, path, tok, nil); r.status != 200 || bytes.Contains(r.body, []byte(created.ClientSecret)) {
					t.Fatalf("%s: %d, shows the secret: %v", path, r.status, bytes.Contains(r.body, []byte(created.ClientSecret)))
				}
			}
		})
		t.Run("create-invalid-every-problem", func(t *testing.T) {
			r := e.call(http.MethodPost, p+"/apps", tok, map[string]any{
				"id": "bad id!", "redirect_uris": []string{"http://evil.example/cb"}, "grant_types": []string{"password"},
				"id_token_alg": "HS256", "access_token_ttl": 5,
			})
			wantFields(t, r, "id", "redirect_uris", "grant_types", "id_token_alg", "access_token_ttl")
			if auditCount(t, e, "admin.client.create", "failed", "") != 1 {
				t.Fatal("no audit record for the refused create")
			}
		})
		t.Run("create-bad-input", func(t *testing.T) {
			wantFields(t, e.call(http.MethodPost, p+"/apps", tok, `{"id": 7}`), "id")
			wantFields(t, e.call(http.MethodPost, p+"/apps", tok, `{"id": "x", "access_token_ttl": 1.5}`), "access_token_ttl")
			// Seconds that would overflow a duration must not wrap into range.
			wantFields(t, e.call(http.MethodPost, p+"/apps", tok, `{"id": "x", "access_token_ttl": 9223372036854775807}`), "access_token_ttl")
			wantFields(t, e.call(http.MethodPost, p+"/apps", tok, `{"id": "x", "access_token_ttl": 18446744374}`), "access_token_ttl")
			wantFields(t, e.call(http.MethodPost, p+"/apps", tok, `{"id": "x", "secret": "mine"}`), "secret")
			wantFields(t, e.call(http.MethodPost, p+"/apps", tok, `{"id": `))
			wantFields(t, e.call(http.MethodPost, p+"/apps", tok, map[string]any{"id": "logo", "logo_uri": "https://cdn.example/x.png"}), "logo_uri")
			r := e.call(http.MethodPost, p+"/apps", tok, nil)
			if r.status != http.StatusUnsupportedMediaType {
				t.Fatalf("no body: %d %s", r.status, r.body)
			}
			r.problem(t)
		})
		t.Run("create-duplicate", func(t *testing.T) {
			r := e.call(http.MethodPost, p+"/apps", tok, map[string]any{"id": "wiki", "redirect_uris": []string{"https://wiki.example/cb"}})
			if r.status != http.StatusConflict {
				t.Fatalf("duplicate: %d %s", r.status, r.body)
			}
			r.problem(t)
		})
		t.Run("get-unknown", func(t *testing.T) {
			for _, id := range []string{"nope", strings.Repeat("x", 300), "%E2%80%AE"} {
				r := e.call(http.MethodGet, p+"/apps/"+id, tok, nil)
				if r.status != 404 {
					t.Fatalf("%s: %d", id, r.status)
				}
				r.problem(t)
			}
		})
		t.Run("update", func(t *testing.T) {
			r := e.call(http.MethodPatch, p+"/apps/wiki", tok, map[string]any{"name": "Wiki", "redirect_uris": []string{"https://wiki.example/cb2"}})
			var a admin.App
			r.json(t, &a)
			if r.status != 200 || a.Name != "Wiki" || a.RedirectURIs[0] != "https://wiki.example/cb2" || a.IDTokenAlg != "ES256" {
				t.Fatalf("update: %d %s", r.status, r.body)
			}
			if auditCount(t, e, "admin.client.update", "ok", "client=wiki") != 1 {
				t.Fatal("no audit record for the update")
			}
			wantFields(t, e.call(http.MethodPatch, p+"/apps/wiki", tok, map[string]any{"public": true}), "public")
			wantFields(t, e.call(http.MethodPatch, p+"/apps/wiki", tok, map[string]any{"colour": "red"}), "colour")
			wantFields(t, e.call(http.MethodPatch, p+"/apps/wiki", tok, map[string]any{"redirect_uris": []string{}, "access_token_type": "paseto"}),
				"redirect_uris", "access_token_type")
			wantFields(t, e.call(http.MethodPatch, p+"/apps/wiki", tok, map[string]any{}), "")
			if r := e.call(http.MethodPatch, p+"/apps/nope", tok, map[string]any{"name": "x"}); r.status != 404 {
				t.Fatalf("update unknown: %d", r.status)
			}
		})
		t.Run("list-paginates", func(t *testing.T) {
			seen := map[string]bool{}
			cursor, pages := "", 0
			for {
				q := "?limit=2"
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				r := e.call(http.MethodGet, p+"/apps"+q, tok, nil)
				var page admin.Page[admin.App]
				r.json(t, &page)
				if r.status != 200 || len(page.Items) > 2 {
					t.Fatalf("page: %d %s", r.status, r.body)
				}
				for _, a := range page.Items {
					if seen[a.ID] {
						t.Fatalf("%s listed twice", a.ID)
					}
					seen[a.ID] = true
				}
				pages++
				if cursor = page.NextCursor; cursor == "" {
					break
				}
			}
			all, _ := e.s.OPStore.ListClients(t.Context())
			if len(seen) != len(all) || pages != (len(all)+1)/2 {
				t.Fatalf("saw %d apps in %d pages, want %d", len(seen), pages, len(all))
			}
			wantFields(t, e.call(http.MethodGet, p+"/apps?limit=0&cursor=zzz", tok, nil), "limit", "cursor")
			wantFields(t, e.call(http.MethodGet, p+"/apps?limit=abc", tok, nil), "limit")
		})
		t.Run("secret-regenerate", func(t *testing.T) {
			mk := func(id string) string {
				r := e.call(http.MethodPost, p+"/apps", tok, map[string]any{"id": id})
				var c admin.Created
				r.json(t, &c)
				if r.status != 201 || c.ClientSecret == "" {
					t.Fatalf("create %s: %d %s", id, r.status, r.body)
				}
				return c.ClientSecret
			}
			works := func(id, secret string) bool {
				status, _ := e.s.PostForm(t, "/oauth/token", id, secret, url.Values{"grant_type": {"client_credentials"}})
				return status == 200
			}
			for _, tc := range []struct {
				name  string
				body  any
				grace bool
			}{{"default-no-grace", nil, false}, {"zero", map[string]any{"grace_period": 0}, false}, {"one-hour", map[string]any{"grace_period": 3600}, true}} {
				t.Run(tc.name, func(t *testing.T) {
					id := "svc-" + tc.name
					old := mk(id)
					r := e.call(http.MethodPost, p+"/apps/"+id+"/secret", tok, tc.body)
					var ns admin.NewSecret
					r.json(t, &ns)
					if r.status != 200 || ns.ClientSecret == "" || ns.ClientSecret == old || (ns.PreviousSecretUntil != nil) != tc.grace {
						t.Fatalf("regenerate: %d %s", r.status, r.body)
					}
					if !works(id, ns.ClientSecret) || works(id, old) != tc.grace {
						t.Fatalf("new works %v, old works %v (grace %v)", works(id, ns.ClientSecret), works(id, old), tc.grace)
					}
					if tc.grace {
						e.s.Clock.Advance(time.Hour + time.Second)
						if works(id, old) {
							t.Fatal("old secret works after its grace period")
						}
						tok = e.clientToken(opsClient, opsSecret, admin.Scope) // the old one expired meanwhile
					}
				})
			}
			wantFields(t, e.call(http.MethodPost, p+"/apps/wiki/secret", tok, map[string]any{"grace_period": -1}), "grace_period")
			wantFields(t, e.call(http.MethodPost, p+"/apps/"+pt.PublicClient+"/secret", tok, nil), "secret")
			if r := e.call(http.MethodPost, p+"/apps/nope/secret", tok, nil); r.status != 404 {
				t.Fatalf("unknown: %d", r.status)
			}
			if auditCount(t, e, "admin.client.secret", "ok", "client=svc-one-hour grace=3600s") != 1 {
				t.Fatal("no audit record for the regeneration")
			}
		})
		t.Run("delete-revokes-tokens", func(t *testing.T) {
			secret := e.call(http.MethodPost, p+"/apps", tok, map[string]any{"id": "doomed"})
			var c admin.Created
			secret.json(t, &c)
			victim := (&apiEnv{t: t, s: e.s}).clientToken("doomed", c.ClientSecret, "")
			if active, _ := e.s.Introspect(t, "doomed", c.ClientSecret, victim); !active {
				t.Fatal("token inactive before the delete")
			}
			if r := e.call(http.MethodDelete, p+"/apps/doomed", tok, nil); r.status != 204 {
				t.Fatalf("delete: %d %s", r.status, r.body)
			}
			if _, err := e.s.OPStore.ActiveAccessToken(t.Context(), "x", "y"); err == nil {
				t.Fatal("lookup of nothing succeeded")
			}
			if tk, err := e.s.Provider.VerifyAccessToken(t.Context(), victim); err == nil {
				t.Fatalf("the deleted app's token still verifies: %+v", tk)
			}
			if r := e.call(http.MethodGet, p+"/apps/doomed", tok, nil); r.status != 404 {
				t.Fatalf("get after delete: %d", r.status)
			}
			if r := e.call(http.MethodDelete, p+"/apps/doomed", tok, nil); r.status != 404 {
				t.Fatalf("delete again: %d", r.status)
			}
			if auditCount(t, e, "admin.client.delete", "ok", "client=doomed") != 1 {
				t.Fatal("no audit record for the delete")
			}
		})
		t.Run("responses-were-validated", func(t *testing.T) {
			if e.validated.Load() < 30 {
				t.Fatalf("only %d responses were checked against the OpenAPI document", e.validated.Load())
			}
		})
		t.Run("unknown-operation", func(t *testing.T) {
			for _, path := range []string{p + "/nothing", p, p + "/apps/wiki/extra"} {
				r := e.call(http.MethodGet, path, tok, nil)
				if r.status != 404 {
					t.Fatalf("%s: %d", path, r.status)
				}
				r.problem(t)
			}
			r := e.call(http.MethodGet, p+"/nothing", "", nil)
			wantChallenge(t, r, 401, "")
			for _, tc := range []struct{ method, path, allow string }{
				{http.MethodGet, p + "/apps/wiki/secret", "POST"},
				{http.MethodPut, p + "/apps/wiki", "GET, PATCH, DELETE"},
				{http.MethodDelete, p + "/apps", "GET, POST"},
			} {
				r := e.call(tc.method, tc.path, tok, nil)
				if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != tc.allow {
					t.Fatalf("%s %s: %d Allow %q, want 405 %q", tc.method, tc.path, r.status, r.header.Get("Allow"), tc.allow)
				}
				r.problem(t)
			}
		})
	})
}

// An app registered through the API signs a user in with a real RP
// library (go-oidc + x/oauth2), and its "how to connect" values are the
// ones the discovery document serves.
func TestAdminAPIConnect(t *testing.T) {
	eachAPI(t, func(t *testing.T, e *apiEnv) {
		tok := e.clientToken(opsClient, opsSecret, admin.Scope)
		redirect := "https://grafana.example/login/generic_oauth"
		r := e.call(http.MethodPost, admin.Prefix+"/apps", tok, map[string]any{"id": "grafana", "name": "Grafana", "redirect_uris": []string{redirect}})
		var c admin.Created
		r.json(t, &c)
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		r = e.call(http.MethodGet, admin.Prefix+"/apps/grafana/connect", tok, nil)
		var conn admin.Connect
		r.json(t, &conn)
		if r.status != 200 {
			t.Fatalf("connect: %d %s", r.status, r.body)
		}
		res, err := e.s.HTTP.Client().Get(conn.DiscoveryURL)
		if err != nil {
			t.Fatal(err)
		}
		var disc map[string]any
		_ = json.NewDecoder(res.Body).Decode(&disc)
		res.Body.Close()
		str := func(k string) string { s, _ := disc[k].(string); return s }
		if conn.Issuer != str("issuer") || conn.AuthorizationEndpoint != str("authorization_endpoint") || conn.TokenEndpoint != str("token_endpoint") ||
			conn.UserInfoEndpoint != str("userinfo_endpoint") || conn.JWKSURI != str("jwks_uri") || conn.EndSessionEndpoint != str("end_session_endpoint") ||
			conn.ClientID != "grafana" || conn.RedirectURI != redirect || conn.DiscoveryURL != e.s.URL+"/.well-known/openid-configuration" {
			t.Fatalf("connect %+v does not match discovery %v", conn, disc)
		}
		want := map[string][]string{
			"oauth2-proxy":     {`oidc_issuer_url = "` + str("issuer") + `"`, `client_id = "grafana"`, `redirect_url = "` + redirect + `"`},
			"mod_auth_openidc": {"OIDCProviderMetadataURL " + conn.DiscoveryURL + "\n", "OIDCClientID grafana\n", "OIDCRedirectURI " + redirect + "\n"},
			"grafana": {"client_id = grafana\n", "auth_url = " + str("authorization_endpoint") + "\n", "token_url = " + str("token_endpoint") + "\n",
				"api_url = " + str("userinfo_endpoint") + "\n"},
			"go":   {`oidc.NewProvider(ctx, "` + str("issuer") + `")`, `ClientID:     "grafana"`, `RedirectURL:  "` + redirect + `"`},
			"node": {`new URL("` + str("issuer") + `")`, `"grafana"`, `const redirectUri = "` + redirect + `"`},
		}
		if len(conn.Snippets) != len(want) {
			t.Fatalf("%d snippets, want %d", len(conn.Snippets), len(want))
		}
		for _, s := range conn.Snippets {
			for _, frag := range want[s.ID] {
				if !strings.Contains(s.Content, frag) {
					t.Errorf("snippet %s lacks %q:\n%s", s.ID, frag, s.Content)
				}
			}
			if strings.Contains(s.Content, c.ClientSecret) {
				t.Errorf("snippet %s shows the secret", s.ID)
			}
		}
		// The app signs alice in with go-oidc and x/oauth2, configured from
		// the connect values alone.
		rp := e.s.NewRP(t, conn.ClientID, c.ClientSecret, conn.RedirectURI)
		if rp.Provider.Endpoint().AuthURL != conn.AuthorizationEndpoint || rp.Provider.Endpoint().TokenURL != conn.TokenEndpoint {
			t.Fatalf("go-oidc discovered %+v", rp.Provider.Endpoint())
		}
		b := e.s.NewBrowser(t)
		a := rp.Start()
		login := b.Get(a.URL)
		q := rp.Callback(a, b.SignIn(login.Page, pt.Username, pt.Password))
		tokens, err := rp.Exchange(t.Context(), a, q.Get("code"))
		if err != nil || tokens.IDToken.Subject != e.s.User.ID {
			t.Fatalf("sign-in through the API's app: %v", err)
		}
	})
}

// The same Idempotency-Key and body return the stored answer without a
// second action; another body under the key is refused; N parallel
// requests with one key make exactly one app.
func TestAdminAPIIdempotency(t *testing.T) {
	eachAPI(t, func(t *testing.T, e *apiEnv) {
		tok := e.clientToken(opsClient, opsSecret, admin.Scope)
		p := admin.Prefix + "/apps"
		body := map[string]any{"id": "once", "redirect_uris": []string{"https://once.example/cb"}}
		first := e.call(http.MethodPost, p, tok, body, "Idempotency-Key", "k-1")
		again := e.call(http.MethodPost, p, tok, body, "Idempotency-Key", "k-1")
		if first.status != 201 || again.status != 201 || !bytes.Equal(first.body, again.body) || again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %d %d\n%s\n%s", first.status, again.status, first.body, again.body)
		}
		if n := auditCount(t, e, "admin.client.create", "ok", "client=once"); n != 1 {
			t.Fatalf("%d create records, want 1", n)
		}
		// The stored answer holds the client secret: never in clear at rest.
		var c admin.Created
		first.json(t, &c)
		var stored [][]byte
		if err := e.s.DB.Table("admin_idempotency_keys").Pluck("body", &stored).Error; err != nil || len(stored) != 1 {
			t.Fatalf("stored answers: %d %v", len(stored), err)
		}
		if c.ClientSecret == "" || bytes.Contains(stored[0], []byte(c.ClientSecret)) || bytes.Contains(stored[0], []byte(`"once"`)) {
			t.Fatal("the stored answer is in clear")
		}
		other := e.call(http.MethodPost, p, tok, map[string]any{"id": "twice"}, "Idempotency-Key", "k-1")
		if other.status != http.StatusUnprocessableEntity {
			t.Fatalf("other body, same key: %d %s", other.status, other.body)
		}
		other.problem(t)
		// Keys are per caller: an admin user's k-1 is their own.
		adminTok := e.userToken(e.admin, []string{"pwd", "otp"}, 0)
		if r := e.call(http.MethodPost, p, adminTok, map[string]any{"id": "mine"}, "Idempotency-Key", "k-1"); r.status != 201 {
			t.Fatalf("another caller's key: %d %s", r.status, r.body)
		}
		// A refused request is replayed as refused, not redone.
		bad := map[string]any{"id": "bad id"}
		r1 := e.call(http.MethodPost, p, tok, bad, "Idempotency-Key", "k-bad")
		r2 := e.call(http.MethodPost, p, tok, bad, "Idempotency-Key", "k-bad")
		if r1.status != 400 || r2.status != 400 || !bytes.Equal(r1.body, r2.body) {
			t.Fatalf("refused replay: %d %d", r1.status, r2.status)
		}

		const n = 8
		par := map[string]any{"id": "parallel", "redirect_uris": []string{"https://par.example/cb"}}
		statuses := e.parallel(n, http.MethodPost, p, tok, func(int) any { return par }, "Idempotency-Key", "k-par")
		created := 0
		for _, s := range statuses {
			switch s {
			case 201:
				created++
			case 409: // still in progress: the client retries
			default:
				t.Fatalf("parallel statuses %v", statuses)
			}
		}
		if created == 0 || auditCount(t, e, "admin.client.create", "ok", "client=parallel") != 1 {
			t.Fatalf("parallel statuses %v; create records %d, want exactly 1", statuses, auditCount(t, e, "admin.client.create", "ok", "client=parallel"))
		}
		// After the window the key is free again.
		e.s.Clock.Advance(admin.IdempotencyWindow + time.Minute)
		tok = e.clientToken(opsClient, opsSecret, admin.Scope)
		if r := e.call(http.MethodPost, p, tok, map[string]any{"id": "later"}, "Idempotency-Key", "k-1"); r.status != 201 {
			t.Fatalf("key after its window: %d %s", r.status, r.body)
		}
		if n, err := e.api.CleanupIdempotency(t.Context(), 100); err != nil || n == 0 {
			t.Fatalf("cleanup: %d %v", n, err)
		}
	})
}

func TestAdminAPIRateLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, u string) {
		e := startAdminAPI(t, u, ratelimit.Rule{Scope: "admin-api-caller", Limit: 3, Window: time.Minute})
		tok := e.clientToken(opsClient, opsSecret, admin.Scope)
		for i := range 3 {
			if r := e.call(http.MethodGet, admin.Prefix+"/apps", tok, nil); r.status != 200 {
				t.Fatalf("request %d: %d", i, r.status)
			}
		}
		r := e.call(http.MethodGet, admin.Prefix+"/apps", tok, nil)
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
			t.Fatalf("over the limit: %d %v", r.status, r.header)
		}
		r.problem(t)
		// Another caller has its own budget.
		if r := e.call(http.MethodGet, admin.Prefix+"/apps", e.userToken(e.admin, []string{"pwd", "otp"}, 0), nil); r.status != 200 {
			t.Fatalf("another caller: %d", r.status)
		}
	})
}

// The document is valid OpenAPI 3.1 and names exactly the operations the
// API registers, both ways.
func TestAdminAPIOpenAPIMatchesRoutes(t *testing.T) {
	doc, _ := openAPIRouter(t)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %s", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+admin.Prefix+path] = true
		}
	}
	api, err := admin.New(admin.Deps{Tokens: adminTokens{}, Users: &user.Store{}, Apps: adminApps{}, Audit: nil})
	if err == nil || api != nil {
		t.Fatal("admin.New accepted missing dependencies")
	}
	e := startAdminAPI(t, dbtest.URL(t, dbtest.SQLite), ratelimit.Rule{})
	registered := map[string]bool{}
	for _, r := range e.api.Routes() {
		registered[r.Method+" "+r.Path] = true
	}
	// And the router really serves each one (not only the list says so).
	for _, rt := range e.s.Echo.Routes() {
		if strings.HasPrefix(rt.Path, admin.Prefix+"/") && !strings.HasSuffix(rt.Path, "/*") {
			p := rt.Path
			for _, seg := range strings.Split(p, "/") {
				if strings.HasPrefix(seg, ":") {
					p = strings.Replace(p, seg, "{"+seg[1:]+"}", 1)
				}
			}
			if !registered[rt.Method+" "+p] {
				t.Errorf("echo serves %s %s, which Routes does not list", rt.Method, p)
			}
		}
	}
	for op := range registered {
		if !documented[op] {
			t.Errorf("route %s is not in the OpenAPI document", op)
		}
	}
	for op := range documented {
		if !registered[op] {
			t.Errorf("the OpenAPI document names %s, which is not a route", op)
		}
	}
	if doc.Components.SecuritySchemes["bearer"] == nil || doc.Components.Schemas["Problem"] == nil {
		t.Fatal("document lacks the bearer scheme or the Problem schema")
	}
	res, err := e.s.HTTP.Client().Get(e.s.URL + admin.OpenAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Equal(served, admin.OpenAPI()) || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("served document: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
