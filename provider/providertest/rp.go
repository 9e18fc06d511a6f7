package providertest

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/url"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// RP is an independent relying party (coreos/go-oidc + x/oauth2) talking
// to the server, the way a real application would.
type RP struct {
	t        testing.TB
	Provider *oidc.Provider
	Config   oauth2.Config
	Verifier *oidc.IDTokenVerifier
	HTTP     *http.Client
}

// Ctx returns ctx carrying the test server's TLS-trusting client for
// go-oidc and x/oauth2.
func (r *RP) Ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, r.HTTP), r.HTTP)
}

// NewRP discovers the server and configures a client.
func (s *Server) NewRP(t testing.TB, clientID, secret, redirectURI string, scopes ...string) *RP {
	t.Helper()
	hc := s.HTTP.Client()
	ctx := oidc.ClientContext(context.Background(), hc)
	p, err := oidc.NewProvider(ctx, s.URL)
	if err != nil {
		t.Fatalf("rp: discovery: %v", err)
	}
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}
	}
	cfg := oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: redirectURI, Endpoint: p.Endpoint(), Scopes: scopes}
	return &RP{t: t, Provider: p, Config: cfg, Verifier: p.Verifier(&oidc.Config{ClientID: clientID}), HTTP: hc}
}

// AuthRequest is one authorization request the RP started.
type AuthRequest struct {
	URL      string
	State    string
	Nonce    string
	Verifier string
}

// Start builds an authorization URL with state, nonce and a PKCE S256
// challenge; extra parameters (prompt, max_age, id_token_hint) go in params.
func (r *RP) Start(params ...oauth2.AuthCodeOption) *AuthRequest {
	a := &AuthRequest{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier()}
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(a.Verifier), oauth2.SetAuthURLParam("nonce", a.Nonce)}, params...)
	a.URL = r.Config.AuthCodeURL(a.State, opts...)
	return a
}

// Param is a shorthand for oauth2.SetAuthURLParam.
func Param(k, v string) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam(k, v) }

// Callback checks that redirect is this RP's redirect URI carrying the
// request's state and returns its query.
func (r *RP) Callback(a *AuthRequest, res *Result) url.Values {
	r.t.Helper()
	if res.Redirect == nil {
		r.t.Fatalf("rp: expected a redirect to the app, got %s\n%s", res, res.Page.Body)
	}
	got := *res.Redirect
	q := got.Query()
	got.RawQuery = ""
	if got.String() != r.Config.RedirectURL {
		r.t.Fatalf("rp: redirected to %s, want %s", res.Redirect, r.Config.RedirectURL)
	}
	if q.Get("state") != a.State {
		r.t.Fatalf("rp: state %q, want %q", q.Get("state"), a.State)
	}
	return q
}

// Tokens is a verified token response.
type Tokens struct {
	OAuth   *oauth2.Token
	IDToken *oidc.IDToken
	Raw     string
}

// Exchange redeems code with the verifier and verifies the ID token
// (signature, issuer, audience, expiry, nonce, at_hash).
func (r *RP) Exchange(ctx context.Context, a *AuthRequest, code string) (*Tokens, error) {
	tok, err := r.Config.Exchange(r.Ctx(ctx), code, oauth2.VerifierOption(a.Verifier))
	if err != nil {
		return nil, err
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.Verifier.Verify(r.Ctx(ctx), raw)
	if err != nil {
		return nil, err
	}
	if idt.Nonce != a.Nonce {
		return nil, &NonceError{Got: idt.Nonce, Want: a.Nonce}
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil && idt.AccessTokenHash != "" {
		return nil, err
	}
	return &Tokens{OAuth: tok, IDToken: idt, Raw: raw}, nil
}

// NonceError is a nonce mismatch.
type NonceError struct{ Got, Want string }

func (e *NonceError) Error() string { return "nonce " + e.Got + " != " + e.Want }
