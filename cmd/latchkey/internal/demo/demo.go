// Package demo is the relying party that `latchkey serve --dev` mounts at
// /demo: a public client that signs in through Latchkey's own issuer with the
// authorization code flow and PKCE, using independent libraries
// (golang.org/x/oauth2 and github.com/coreos/go-oidc), then shows the
// verified ID token claims and the userinfo response.
//
// It exists so a newcomer sees the whole loop in a browser in a minute, and
// as a second, independent check that the provider speaks standard OIDC. It
// keeps its state in memory and is mounted only in dev mode.
package demo

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// ClientID is the demo client registered by dev mode.
const ClientID = "latchkey-demo"

// Paths under the issuer.
const (
	PathHome     = "/demo"
	PathLogin    = "/demo/login"
	PathCallback = "/demo/callback"
	PathLogout   = "/demo/logout"
)

const (
	stateCookie   = "lk_demo_state"
	sessionCookie = "lk_demo_session"
	pendingTTL    = 10 * time.Minute
	sessionTTL    = time.Hour
	maxEntries    = 10000 // bounds memory if someone hammers /demo/login
)

// RedirectURI and PostLogoutURI are what the demo client must be
// registered with.
func RedirectURI(issuer string) string   { return issuer + PathCallback }
func PostLogoutURI(issuer string) string { return issuer + PathHome }

// Demo is the relying party. Create it with New and serve Handler.
type Demo struct {
	issuer string
	client *http.Client
	now    func() time.Time
	secure bool

	mu       sync.Mutex
	provider *oidc.Provider // discovered lazily: the server is not listening yet at New
	pending  map[string]pending
	sessions map[string]signedIn
}

type pending struct {
	nonce, verifier string
	expires         time.Time
}

type signedIn struct {
	Claims   map[string]any
	Userinfo map[string]any
	IDToken  string
	Scopes   string
	Expiry   time.Time
	expires  time.Time
}

// New returns the demo for issuer. client is used for discovery, the token
// exchange and userinfo (nil: a client with a 10 s timeout).
func New(issuer string, client *http.Client) *Demo {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Demo{
		issuer:   strings.TrimSuffix(issuer, "/"),
		client:   client,
		now:      time.Now,
		secure:   strings.HasPrefix(issuer, "https://"),
		pending:  map[string]pending{},
		sessions: map[string]signedIn{},
	}
}

// Handler serves PathHome, PathLogin, PathCallback and PathLogout.
func (d *Demo) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathHome, d.home)
	mux.HandleFunc("GET "+PathLogin, d.login)
	mux.HandleFunc("GET "+PathCallback, d.callback)
	mux.HandleFunc("GET "+PathLogout, d.logout)
	return headers(d.canonicalHost(mux))
}

// canonicalHost sends a browser that opened the demo under another name
// (127.0.0.1 instead of localhost) to the issuer's host first: cookies are
// per host, so a sign-in started on one name could not finish on the other.
func (d *Demo) canonicalHost(next http.Handler) http.Handler {
	want := ""
	if u, err := url.Parse(d.issuer); err == nil {
		want = u.Host
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if want != "" && r.Host != want && r.Method == http.MethodGet {
			http.Redirect(w, r, d.issuer+PathHome, http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func (d *Demo) ctx(r *http.Request) context.Context {
	return oidc.ClientContext(r.Context(), d.client)
}

// discover fetches the issuer's discovery document once it answers.
func (d *Demo) discover(ctx context.Context) (*oidc.Provider, error) {
	d.mu.Lock()
	p := d.provider
	d.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := oidc.NewProvider(ctx, d.issuer)
	if err != nil {
		return nil, fmt.Errorf("demo: discovery at %s: %w", d.issuer, err)
	}
	d.mu.Lock()
	d.provider = p
	d.mu.Unlock()
	return p, nil
}

func (d *Demo) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID:    ClientID,
		Endpoint:    p.Endpoint(),
		RedirectURL: RedirectURI(d.issuer),
		Scopes:      []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess},
	}
}

func (d *Demo) login(w http.ResponseWriter, r *http.Request) {
	p, err := d.discover(d.ctx(r))
	if err != nil {
		d.fail(w, http.StatusBadGateway, "The demo app could not reach the provider's discovery document.", err)
		return
	}
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	d.mu.Lock()
	d.gc()
	if len(d.pending) >= maxEntries {
		d.mu.Unlock()
		d.fail(w, http.StatusServiceUnavailable, "Too many sign-ins in progress; try again in a few minutes.", nil)
		return
	}
	d.pending[state] = pending{nonce: nonce, verifier: verifier, expires: d.now().Add(pendingTTL)}
	d.mu.Unlock()
	// The state cookie binds the callback to this browser (login CSRF).
	http.SetCookie(w, d.cookie(stateCookie, state, pendingTTL))
	u := d.oauth(p).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	http.Redirect(w, r, u, http.StatusSeeOther)
}

func (d *Demo) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		d.fail(w, http.StatusBadRequest, "The provider answered with an error: "+e+" "+q.Get("error_description"), nil)
		return
	}
	state := q.Get("state")
	c, err := r.Cookie(stateCookie)
	if state == "" || err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		d.fail(w, http.StatusBadRequest, "This sign-in was not started in this browser. Start again.", nil)
		return
	}
	d.mu.Lock()
	pend, ok := d.pending[state]
	delete(d.pending, state) // single use
	d.mu.Unlock()
	http.SetCookie(w, d.cookie(stateCookie, "", -1))
	if !ok || d.now().After(pend.expires) {
		d.fail(w, http.StatusBadRequest, "This sign-in expired or was already used. Start again.", nil)
		return
	}
	// The RFC 9207 iss parameter, when present, must name our issuer
	// (mix-up defence).
	if iss := q.Get("iss"); iss != "" && iss != d.issuer {
		d.fail(w, http.StatusBadRequest, "The response came from another issuer.", nil)
		return
	}
	ctx := d.ctx(r)
	p, err := d.discover(ctx)
	if err != nil {
		d.fail(w, http.StatusBadGateway, "The demo app could not reach the provider.", err)
		return
	}
	tok, err := d.oauth(p).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pend.verifier))
	if err != nil {
		d.fail(w, http.StatusBadGateway, "The code exchange failed.", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		d.fail(w, http.StatusBadGateway, "The token response has no ID token.", nil)
		return
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: ClientID}).Verify(ctx, raw)
	if err != nil {
		d.fail(w, http.StatusBadGateway, "The ID token did not verify.", err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(pend.nonce)) != 1 {
		d.fail(w, http.StatusBadRequest, "The ID token's nonce does not match this sign-in.", nil)
		return
	}
	s := signedIn{IDToken: raw, Expiry: tok.Expiry, expires: d.now().Add(sessionTTL)}
	if err := idt.Claims(&s.Claims); err != nil {
		d.fail(w, http.StatusBadGateway, "The ID token claims do not parse.", err)
		return
	}
	s.Scopes, _ = tok.Extra("scope").(string)
	if ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
		_ = ui.Claims(&s.Userinfo)
	} else {
		s.Userinfo = map[string]any{"error": err.Error()}
	}
	id := rand.Text()
	d.mu.Lock()
	d.gc()
	if len(d.sessions) >= maxEntries {
		clear(d.sessions)
	}
	d.sessions[id] = s
	d.mu.Unlock()
	http.SetCookie(w, d.cookie(sessionCookie, id, sessionTTL))
	http.Redirect(w, r, PathHome, http.StatusSeeOther)
}

func (d *Demo) home(w http.ResponseWriter, r *http.Request) {
	var s *signedIn
	if c, err := r.Cookie(sessionCookie); err == nil {
		d.mu.Lock()
		if v, ok := d.sessions[c.Value]; ok && d.now().Before(v.expires) {
			s = &v
		}
		d.mu.Unlock()
	}
	data := map[string]any{"Issuer": d.issuer, "ClientID": ClientID}
	if s != nil {
		data["Claims"] = pretty(s.Claims)
		data["Userinfo"] = pretty(s.Userinfo)
		data["Scopes"] = s.Scopes
		data["Expiry"] = s.Expiry.UTC().Format(time.RFC3339)
		data["Name"] = firstString(s.Claims, "name", "preferred_username", "email", "sub")
	}
	d.render(w, http.StatusOK, data)
}

func (d *Demo) logout(w http.ResponseWriter, r *http.Request) {
	var idToken string
	if c, err := r.Cookie(sessionCookie); err == nil {
		d.mu.Lock()
		idToken = d.sessions[c.Value].IDToken
		delete(d.sessions, c.Value)
		d.mu.Unlock()
	}
	http.SetCookie(w, d.cookie(sessionCookie, "", -1))
	p, err := d.discover(d.ctx(r))
	var endSession struct {
		URL string `json:"end_session_endpoint"`
	}
	if err == nil {
		err = p.Claims(&endSession)
	}
	if err != nil || endSession.URL == "" {
		http.Redirect(w, r, PathHome, http.StatusSeeOther)
		return
	}
	q := url.Values{"client_id": {ClientID}, "post_logout_redirect_uri": {PostLogoutURI(d.issuer)}}
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	http.Redirect(w, r, endSession.URL+"?"+q.Encode(), http.StatusSeeOther)
}

// gc drops expired entries; the caller holds d.mu.
func (d *Demo) gc() {
	now := d.now()
	for k, v := range d.pending {
		if now.After(v.expires) {
			delete(d.pending, k)
		}
	}
	for k, v := range d.sessions {
		if now.After(v.expires) {
			delete(d.sessions, k)
		}
	}
}

func (d *Demo) cookie(name, value string, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: PathHome, HttpOnly: true, Secure: d.secure, SameSite: http.SameSiteLaxMode} // #nosec G124 -- Secure follows the demo's issuer scheme: http only in dev mode
	if ttl < 0 {
		c.MaxAge = -1
	} else {
		c.MaxAge = int(ttl.Seconds())
	}
	return c
}

func (d *Demo) fail(w http.ResponseWriter, status int, msg string, err error) {
	if err != nil {
		slog.Warn("demo relying party", "err", err)
	}
	d.render(w, status, map[string]any{"Issuer": d.issuer, "ClientID": ClientID, "Error": msg})
}

func (d *Demo) render(w http.ResponseWriter, status int, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := page.Execute(w, data); err != nil && !errors.Is(err, http.ErrHandlerTimeout) {
		slog.Warn("demo: render", "err", err)
	}
}

func pretty(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

var page = template.Must(template.New("demo").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Latchkey demo app</title>
<link rel="stylesheet" href="/static/latchkey.css">
</head><body><main class="card">
<h1>Demo app</h1>
<p>This page is a separate OpenID Connect <em>relying party</em> (client <code>{{.ClientID}}</code>) built with
golang.org/x/oauth2 and coreos/go-oidc. It signs in through Latchkey at <code>{{.Issuer}}</code>
with the authorization code flow and PKCE, then verifies the ID token.</p>
{{if .Error}}
<p role="alert" class="error">{{.Error}}</p>
<p><a class="button" href="/demo/login">Sign in again</a></p>
{{else if .Claims}}
<p>Signed in as <strong>{{.Name}}</strong>. The ID token's signature, issuer, audience, expiry and nonce were verified.</p>
<h2>ID token claims</h2>
<pre>{{.Claims}}</pre>
<h2>Userinfo response</h2>
<pre>{{.Userinfo}}</pre>
<p>Granted scopes: <code>{{.Scopes}}</code>; access token expires {{.Expiry}}.</p>
<p><a href="/security-info">Your security info</a> (verification methods for password reset) ·
<a href="/demo/logout">Sign out</a> (ends the single sign-on session too)</p>
{{else}}
<p><a class="button" href="/demo/login">Sign in with Latchkey</a></p>
<p>Use the demo user printed in the terminal where <code>latchkey serve --dev</code> runs. On the sign-in page,
“Can't access your account?” starts self-service password reset.</p>
{{end}}
</main></body></html>
`))
