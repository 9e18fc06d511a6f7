package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/latchkeyid/latchkey/provider/keys"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// opStorage wraps the GORM storage to end the browser session at
// RP-initiated logout: the OP validates the request and the
// post_logout_redirect_uri, the storage revokes the client's tokens, and
// the browser is sent to our /logout page, which clears the SSO cookie
// before it forwards to the (signed) validated redirect.
type opStorage struct {
	Storage
	p *Provider
}

var _ op.CanTerminateSessionFromRequest = (*opStorage)(nil)

func (s *opStorage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	if inner, ok := s.Storage.(op.CanTerminateSessionFromRequest); ok {
		// The storage revokes what it issued; the browser still has to
		// come to /logout to lose its cookie.
		if _, err := inner.TerminateSessionFromRequest(ctx, req); err != nil {
			return "", err
		}
	} else if req.UserID != "" && req.ClientID != "" {
		if err := s.Storage.TerminateSession(ctx, req.UserID, req.ClientID); err != nil {
			return "", err
		}
	}
	return s.p.logoutURL(req.RedirectURI), nil
}

// logoutURL is our /logout page carrying the already validated
// post-logout redirect, MACed so /logout never redirects to a target
// taken from a request parameter alone (open redirect).
func (p *Provider) logoutURL(to string) string {
	if to == "" || to == p.issuer+"/logout" {
		return p.issuer + "/logout"
	}
	q := url.Values{"to": {to}, "sig": {p.logoutSig(to)}}
	return p.issuer + "/logout?" + q.Encode()
}

func (p *Provider) logoutSig(to string) string {
	return base64.RawURLEncoding.EncodeToString(p.keyring.MAC("logout-redirect", to))
}

func (p *Provider) checkLogoutSig(to, sig string) bool {
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	ok, _ := p.keyring.Verify(got, "logout-redirect", to)
	return ok
}

// allowedGrants are the grant types Latchkey offers. The OP library
// always routes the JWT-profile grant and token exchange when asked;
// we refuse them (and the implicit and password grants) before it runs.
var allowedGrants = []string{"authorization_code", "refresh_token", "client_credentials"}

// opInterceptor runs inside the OP router, after the issuer is in the
// context, on every OP request.
func (p *Provider) opInterceptor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth/token":
			// RFC 6749 §5.1: token responses must not be cached; the library
			// does not say so itself.
			web.SetNoStore(w.Header())
			if err := r.ParseForm(); err != nil || !slices.Contains(allowedGrants, r.PostForm.Get("grant_type")) {
				writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
				return
			}
			if r.PostForm.Get("grant_type") == "authorization_code" && r.PostForm.Get("code_verifier") != "" {
				// A verifier for a code issued without a challenge is a
				// PKCE downgrade attempt (RFC 9700 §2.1.1): the library calls
				// it invalid_request, we answer invalid_grant. The code is
				// consumed either way.
				fw := &friendlyWriter{ResponseWriter: w}
				next.ServeHTTP(fw, r)
				if fw.status != 0 {
					body := fw.buf.String()
					if strings.Contains(body, "code_verifier unexpectedly provided") {
						writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier without code_challenge")
						return
					}
					w.WriteHeader(fw.status)
					_, _ = w.Write([]byte(body))
				}
				return
			}
		case "/oauth/introspect", "/userinfo", "/revoke":
			web.SetNoStore(w.Header())
		case "/authorize":
			if err := r.ParseForm(); err != nil {
				writeOAuthError(w, http.StatusBadRequest, "invalid_request", "malformed request")
				return
			}
			// Only the code flow: the implicit and hybrid flows put tokens in
			// URLs (RFC 9700 §2.1.2). Refused here without a redirect.
			if rt := r.Form.Get("response_type"); rt != "code" {
				slog.InfoContext(r.Context(), "authorize refused: response_type must be code", "response_type", rt)
				p.renderPlain(w, r, http.StatusBadRequest, "errors.unsupported_flow.title", "errors.unsupported_flow.message")
				return
			}
			r, err := p.issueBindToken(w, r)
			if err != nil {
				p.renderPlain(w, r, http.StatusInternalServerError, "errors.internal.title", "errors.internal.message")
				return
			}
			p.serveFriendly(next, &issWriter{ResponseWriter: w, issuer: p.issuer}, r)
			return
		case "/authorize/callback":
			if !p.callbackAllowed(w, r) || p.needsConsent(w, r) {
				return
			}
			p.serveFriendly(next, &issWriter{ResponseWriter: w, issuer: p.issuer}, r)
			return
		case "/end_session":
			// The library answers an unknown client_id with a 500; it is the
			// caller's mistake, so say so before it runs.
			if err := r.ParseForm(); err != nil {
				p.renderPlain(w, r, http.StatusBadRequest, "errors.bad_logout.title", "errors.bad_logout.message")
				return
			}
			// The library's form decoder matches names case-insensitively.
			for k, ids := range r.Form {
				if !strings.EqualFold(k, "client_id") {
					continue
				}
				for _, id := range ids {
					if id == "" {
						continue
					}
					var oe *oidc.Error
					if _, err := p.store.GetClientByClientID(r.Context(), id); err != nil && !errors.As(err, &oe) {
						p.renderPlain(w, r, http.StatusBadRequest, "errors.unknown_app.title", "errors.unknown_app.message")
						return
					}
				}
			}
			p.serveFriendly(next, w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serveFriendly runs an OP handler that people reach in their browser and
// turns its plain-text errors (an unknown redirect_uri, a bad logout
// request) into our error page. These errors are never redirected to the
// client, by design: the redirect target is what failed validation.
func (p *Provider) serveFriendly(next http.Handler, w http.ResponseWriter, r *http.Request) {
	fw := &friendlyWriter{ResponseWriter: w}
	next.ServeHTTP(fw, r)
	if fw.status == 0 {
		return
	}
	// The library's words ("unable to retrieve client by id") go to the
	// log only; the person gets plain words and what to do next.
	detail := strings.TrimSpace(fw.buf.String())
	var oauthErr struct {
		Description string `json:"error_description"`
	}
	if strings.HasPrefix(detail, "{") && json.Unmarshal([]byte(detail), &oauthErr) == nil && oauthErr.Description != "" {
		detail = oauthErr.Description
	}
	if len(detail) > 300 {
		detail = detail[:300]
	}
	slog.InfoContext(r.Context(), "request refused by the OP", "path", r.URL.Path, "status", fw.status, "detail", detail)
	if fw.status >= 500 {
		p.renderPlain(w, r, fw.status, "errors.internal.title", "errors.internal.message")
		return
	}
	p.renderPlain(w, r, fw.status, "errors.bad_request.title", "errors.bad_request.message")
}

type friendlyWriter struct {
	http.ResponseWriter
	status int // set when an error is being captured
	buf    strings.Builder
	wrote  bool
}

func (w *friendlyWriter) WriteHeader(code int) {
	if !w.wrote && code >= 400 {
		w.status = code
		w.wrote = true
		return
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *friendlyWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.status != 0 {
		if w.buf.Len() < 4096 {
			w.buf.Write(b)
		}
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *friendlyWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	web.SetNoStore(w.Header())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// renderPlain renders the friendly error page outside Echo.
// title and msg are message IDs.
func (p *Provider) renderPlain(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", web.CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	web.SetNoStore(h)
	w.WriteHeader(status)
	l := i18n.From(r.Context())
	_ = p.render.Render(w, r, "error", map[string]string{"Title": l.T(title), "Message": l.T(msg, "Brand", p.render.Brand().ProductName())})
}

// issWriter adds the RFC 9207 `iss` parameter to authorization responses
// redirected to a client, so a client talking to several providers can
// tell which one answered (mix-up attacks).
type issWriter struct {
	http.ResponseWriter
	issuer string
	wrote  bool
}

func (w *issWriter) WriteHeader(code int) {
	if !w.wrote && (code == http.StatusFound || code == http.StatusSeeOther) {
		if loc := w.Header().Get("Location"); loc != "" && !strings.HasPrefix(loc, w.issuer+"/") {
			w.Header().Set("Location", addIss(loc, w.issuer))
		}
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *issWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *issWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func addIss(loc, issuer string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	if q := u.Query(); q.Has("code") || q.Has("error") {
		q.Set("iss", issuer)
		u.RawQuery = q.Encode()
		return u.String()
	}
	if f, err := url.ParseQuery(u.Fragment); err == nil && (f.Has("code") || f.Has("error")) {
		f.Set("iss", issuer)
		u.Fragment = f.Encode()
		return u.String()
	}
	return loc
}

// discoveryCache serves discovery from prepared bytes, rebuilt at most
// every cacheTTL. The JWKS is not cached here: it comes from the key
// cache that also picks the signing key, so the key set this instance
// publishes always lists the key it signs with.
type discoveryCache struct {
	mu        sync.Mutex
	builtAt   time.Time
	discovery []byte
}

const cacheTTL = 30 * time.Second

func (p *Provider) prepared(ctx context.Context) ([]byte, error) {
	p.cache.mu.Lock()
	defer p.cache.mu.Unlock()
	if p.cache.discovery != nil && time.Since(p.cache.builtAt) < cacheTTL {
		return p.cache.discovery, nil
	}
	ctx = op.ContextWithIssuer(ctx, p.issuer)
	d := op.CreateDiscoveryConfig(ctx, p.op, p.store)
	// Advertise only what Latchkey really offers.
	d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	d.ResponseModesSupported = []string{"query"}
	d.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials}
	d.CodeChallengeMethodsSupported = []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256}
	d.DeviceAuthorizationEndpoint = ""
	d.CheckSessionIframe = ""
	d.RequestParameterSupported = false
	d.RequestObjectSigningAlgValuesSupported = nil
	d.ClaimsSupported = append(d.ClaimsSupported, "amr", "acr", "auth_time", "nonce", "groups")
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	// RFC 9207: we return iss in authorization responses.
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	m["authorization_response_iss_parameter_supported"] = true
	if raw, err = json.Marshal(m); err != nil {
		return nil, err
	}
	p.cache.discovery, p.cache.builtAt = raw, time.Now()
	return raw, nil
}

// preparedJWKS is implemented by storage that keeps the key set document
// ready (opstore, from its key cache).
type preparedJWKS interface {
	JWKS(ctx context.Context) ([]byte, error)
}

// jwks returns the published key set from the storage's key cache, the
// one SigningKey reads.
func (p *Provider) jwks(ctx context.Context) ([]byte, error) {
	if s, ok := p.store.(preparedJWKS); ok {
		return s.JWKS(ctx)
	}
	ks, err := p.store.KeySet(op.ContextWithIssuer(ctx, p.issuer))
	if err != nil {
		return nil, err
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(ks))}
	for _, k := range ks {
		set.Keys = append(set.Keys, jose.JSONWebKey{KeyID: k.ID(), Algorithm: string(k.Algorithm()), Use: k.Use(), Key: k.Key()})
	}
	return json.Marshal(set)
}

func (p *Provider) getDiscovery(c echo.Context) error {
	d, err := p.prepared(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "public, max-age=300")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, d)
}

func (p *Provider) getJWKS(c echo.Context) error {
	k, err := p.jwks(c.Request().Context())
	if err != nil {
		return err
	}
	// Rotation publishes a key keys.DefaultPublishLead before it signs,
	// longer than this max-age plus the key cache.
	c.Response().Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(keys.JWKSMaxAge.Seconds())))
	return c.Blob(http.StatusOK, "application/jwk-set+json", k)
}
