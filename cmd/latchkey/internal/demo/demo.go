// Package demo is the relying party that `latchkey serve --dev` mounts at
// /demo: a public client that signs in through Latchkey's own issuer with the
// authorization code flow and PKCE, using independent libraries
// (golang.org/x/oauth2 and github.com/coreos/go-oidc), then shows the
// verified ID token claims and the userinfo response.
//
// Its words come from the message catalogs (area demo) in the language of
// the request (?lang=, remembered, or Accept-Language), and the language is
// passed on to the provider as ui_locales, so its pages match.
//
// It exists so a newcomer sees the whole loop in a browser in a minute, and
// as a second, independent check that the provider speaks standard OIDC. It
// keeps its state in memory and is mounted only in dev mode.
package demo

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
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

	"github.com/latchkeyid/latchkey/ui/i18n"
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
	brand  string // the provider's product name ("Latchkey")

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

// Option changes how New builds the demo.
type Option func(*Demo)

// WithBrand names the provider as the configured brand does ("" keeps
// "Latchkey").
func WithBrand(name string) Option {
	return func(d *Demo) {
		if name != "" {
			d.brand = name
		}
	}
}

// New returns the demo for issuer. client is used for discovery, the token
// exchange and userinfo (nil: a client with a 10 s timeout).
func New(issuer string, client *http.Client, opts ...Option) *Demo {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	d := &Demo{
		issuer:   strings.TrimSuffix(issuer, "/"),
		client:   client,
		now:      time.Now,
		secure:   strings.HasPrefix(issuer, "https://"),
		brand:    "Latchkey",
		pending:  map[string]pending{},
		sessions: map[string]signedIn{},
	}
	for _, o := range opts {
		o(d)
	}
	return d
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
		d.fail(w, r, http.StatusBadGateway, err, "demo.error.discovery")
		return
	}
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	d.mu.Lock()
	d.gc()
	if len(d.pending) >= maxEntries {
		d.mu.Unlock()
		d.fail(w, r, http.StatusServiceUnavailable, nil, "demo.error.busy")
		return
	}
	d.pending[state] = pending{nonce: nonce, verifier: verifier, expires: d.now().Add(pendingTTL)}
	d.mu.Unlock()
	// The state cookie binds the callback to this browser (login CSRF).
	http.SetCookie(w, d.cookie(stateCookie, state, pendingTTL))
	// The provider's pages come in this page's language.
	u := d.oauth(p).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("ui_locales", i18n.Choose(r).Lang()))
	http.Redirect(w, r, u, http.StatusSeeOther) // #nosec G710 -- u is the provider's own authorization endpoint from discovery; ui_locales is one of the supported tags
}

func (d *Demo) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		d.fail(w, r, http.StatusBadRequest, nil, "demo.error.provider", "Error", strings.TrimSpace(e+" "+q.Get("error_description")))
		return
	}
	state := q.Get("state")
	c, err := r.Cookie(stateCookie)
	if state == "" || err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		d.fail(w, r, http.StatusBadRequest, nil, "demo.error.browser")
		return
	}
	d.mu.Lock()
	pend, ok := d.pending[state]
	delete(d.pending, state) // single use
	d.mu.Unlock()
	http.SetCookie(w, d.cookie(stateCookie, "", -1))
	if !ok || d.now().After(pend.expires) {
		d.fail(w, r, http.StatusBadRequest, nil, "demo.error.expired")
		return
	}
	// The RFC 9207 iss parameter, when present, must name our issuer
	// (mix-up defence).
	if iss := q.Get("iss"); iss != "" && iss != d.issuer {
		d.fail(w, r, http.StatusBadRequest, nil, "demo.error.issuer")
		return
	}
	ctx := d.ctx(r)
	p, err := d.discover(ctx)
	if err != nil {
		d.fail(w, r, http.StatusBadGateway, err, "demo.error.unreachable")
		return
	}
	tok, err := d.oauth(p).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pend.verifier))
	if err != nil {
		d.fail(w, r, http.StatusBadGateway, err, "demo.error.exchange")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		d.fail(w, r, http.StatusBadGateway, nil, "demo.error.no_id_token")
		return
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: ClientID}).Verify(ctx, raw)
	if err != nil {
		d.fail(w, r, http.StatusBadGateway, err, "demo.error.verify")
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(pend.nonce)) != 1 {
		d.fail(w, r, http.StatusBadRequest, nil, "demo.error.nonce")
		return
	}
	s := signedIn{IDToken: raw, Expiry: tok.Expiry, expires: d.now().Add(sessionTTL)}
	if err := idt.Claims(&s.Claims); err != nil {
		d.fail(w, r, http.StatusBadGateway, err, "demo.error.claims")
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
	data := map[string]any{}
	if s != nil {
		data["Claims"] = pretty(s.Claims)
		data["Userinfo"] = pretty(s.Userinfo)
		data["Scopes"] = s.Scopes
		data["Expiry"] = i18n.Choose(r).DateTime(s.Expiry)
		data["Name"] = firstString(s.Claims, "name", "preferred_username", "email", "sub")
	}
	d.render(w, r, http.StatusOK, data)
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

// fail shows the catalog message id (with kv, its data) and logs err.
func (d *Demo) fail(w http.ResponseWriter, r *http.Request, status int, err error, id string, kv ...any) {
	if err != nil {
		slog.Warn("demo relying party", "err", err)
	}
	d.render(w, r, status, map[string]any{"Error": i18n.Choose(r).T(id, kv...)})
}

// choice is one entry of the language picker.
type choice struct {
	i18n.Language
	URL     string
	Current bool
}

func (d *Demo) render(w http.ResponseWriter, r *http.Request, status int, data map[string]any) {
	l := i18n.Choose(r)
	data["L"], data["Brand"], data["Issuer"], data["ClientID"] = l, d.brand, d.issuer, ClientID
	var langs []choice
	for _, lang := range i18n.Languages() {
		langs = append(langs, choice{Language: lang, URL: i18n.PickURL(r, lang.Tag), Current: lang.Tag == l.Lang()})
	}
	data["Languages"] = langs
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", l.Lang())
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

//go:embed demo.html
var pageHTML string

var page = template.Must(template.New("demo").Parse(pageHTML))
