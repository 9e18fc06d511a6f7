package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// ACRTwoProofs is the acr value of a sign-in with two kinds of proof.
const ACRTwoProofs = "2"

// discover returns the issuer's OIDC configuration, fetched in-process at
// the first sign-in (the handler is complete only once serve has built it).
func (k *Console) discover(ctx context.Context) (*oidc.Provider, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.provider != nil {
		return k.provider, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, k.http), k.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("console: discovery: %w", err)
	}
	k.provider = p
	return p, nil
}

func (k *Console) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: ClientID, ClientSecret: k.cfg.Secret, Endpoint: p.Endpoint(),
		RedirectURL: RedirectURI(k.cfg.Issuer), Scopes: []string{oidc.ScopeOpenID, Scope}}
}

// backChannel is ctx with the in-process client for go-oidc and x/oauth2.
func (k *Console) backChannel(ctx context.Context) context.Context {
	return oidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, k.http), k.http)
}

// signIn starts the code flow: state, nonce and the PKCE verifier go into
// a sealed cookie, and the sign-in page is asked for two proofs no older
// than Freshness.
func (k *Console) signIn(c echo.Context, next string) error {
	ctx := c.Request().Context()
	p, err := k.discover(ctx)
	if err != nil {
		return err
	}
	pend := pending{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Next: cleanNext(next), Expires: k.cfg.Now().Add(pendingTTL)}
	if err := k.jar.set(c, pendingCookie, pend, pendingTTL); err != nil {
		return err
	}
	opts := []oauth2.AuthCodeOption{
		oauth2.S256ChallengeOption(pend.Verifier), oauth2.SetAuthURLParam("nonce", pend.Nonce),
		oauth2.SetAuthURLParam("acr_values", ACRTwoProofs),
		oauth2.SetAuthURLParam("max_age", strconv.Itoa(int(Freshness/time.Second))),
	}
	if l := i18n.From(ctx); l.Chosen() {
		opts = append(opts, oauth2.SetAuthURLParam("ui_locales", l.Lang()))
	}
	return c.Redirect(http.StatusSeeOther, k.oauth(p).AuthCodeURL(pend.State, opts...))
}

// Pages of a sign-in that did not give the console what it needs.
var (
	errSignInExpired = &web.PageError{Status: http.StatusBadRequest, Title: "console.error.signin_title",
		Message: "console.error.signin_expired", Link: Path, LinkText: "console.error.signin_again"}
	errSignInRefused = &web.PageError{Status: http.StatusForbidden, Title: "console.error.signin_title",
		Message: "console.error.signin_refused", Link: Path, LinkText: "console.error.signin_again"}
	errOneProof = &web.PageError{Status: http.StatusForbidden, Title: "console.error.signin_title",
		Message: "console.error.one_proof", Link: "/security-info", LinkText: "console.error.to_security_info"}
	errStale = &web.PageError{Status: http.StatusForbidden, Title: "console.error.signin_title",
		Message: "console.error.stale", Link: Path, LinkText: "console.error.signin_again"}
)

// claims are the ID token's facts the console checks.
type claims struct {
	ACR      string   `json:"acr"`
	AMR      []string `json:"amr"`
	AuthTime int64    `json:"auth_time"`
}

// callback finishes the code flow: state (constant-time), the code with
// its PKCE verifier, the ID token (signature, issuer, audience, expiry,
// nonce), then the two proofs, their age and the admin flag.
func (k *Console) callback(c echo.Context) error {
	ctx := c.Request().Context()
	var pend pending
	ok := k.jar.get(c, pendingCookie, &pend)
	k.jar.clear(c, pendingCookie)
	now := k.cfg.Now()
	if !ok || now.After(pend.Expires) {
		return errSignInExpired
	}
	q := c.Request().URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(pend.State)) != 1 {
		return errSignInExpired
	}
	if q.Get("error") != "" || q.Get("code") == "" {
		return errSignInRefused
	}
	p, err := k.discover(ctx)
	if err != nil {
		return err
	}
	bc := k.backChannel(withBrowser(ctx, c.Request()))
	tok, err := k.oauth(p).Exchange(bc, q.Get("code"), oauth2.VerifierOption(pend.Verifier))
	if err != nil {
		slog.WarnContext(ctx, "console: code exchange", "err", err)
		return errSignInRefused
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: ClientID, Now: k.cfg.Now}).Verify(bc, raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(pend.Nonce)) != 1 {
		slog.WarnContext(ctx, "console: id token", "err", err)
		return errSignInRefused
	}
	var cl claims
	if err := idt.Claims(&cl); err != nil {
		return errSignInRefused
	}
	authTime := time.Unix(cl.AuthTime, 0)
	switch {
	case cl.ACR != ACRTwoProofs || len(cl.AMR) < 2 && !strings.Contains(strings.Join(cl.AMR, " "), "mfa"):
		k.revoke(bc, p, tok.AccessToken)
		return errOneProof
	case cl.AuthTime == 0 || now.Sub(authTime) > Freshness:
		k.revoke(bc, p, tok.AccessToken)
		return errStale
	}
	u, err := k.cfg.Users.ByID(ctx, idt.Subject)
	if err != nil || u.Disabled || !u.Admin {
		k.revoke(bc, p, tok.AccessToken)
		if err != nil && !errors.Is(err, user.ErrNotFound) {
			return err
		}
		return errNotAdmin
	}
	exp := tok.Expiry
	if exp.IsZero() {
		exp = now.Add(5 * time.Minute)
	}
	s := session{Subject: idt.Subject, Token: tok.AccessToken, Expires: exp, AuthTime: authTime, CSRF: randomToken()}
	// The cookie lives as long as the session can: the freshness window.
	if err := k.jar.set(c, sessionCookie, s, time.Until(authTime.Add(Freshness))+time.Minute); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, cleanNext(pend.Next))
}

// signOut revokes the console's token and forgets the session.
func (k *Console) signOut(c echo.Context, s *session) error {
	ctx := c.Request().Context()
	if p, err := k.discover(ctx); err == nil {
		k.revoke(k.backChannel(ctx), p, s.Token)
	}
	k.jar.clear(c, sessionCookie)
	return k.render(c, http.StatusOK, "admin-signed-out", nil, map[string]any{"SignIn": Path})
}

// revoke asks the issuer to revoke an access token (RFC 7009); a failure
// only logs: the token expires in minutes anyway.
func (k *Console) revoke(ctx context.Context, p *oidc.Provider, token string) {
	var meta struct {
		Revocation string `json:"revocation_endpoint"`
	}
	if err := p.Claims(&meta); err != nil || meta.Revocation == "" || token == "" {
		return
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, meta.Revocation, strings.NewReader(form.Encode()))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(ClientID), url.QueryEscape(k.cfg.Secret))
	res, err := k.http.Do(req)
	if err != nil {
		slog.WarnContext(ctx, "console: revoke", "err", err)
		return
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		slog.WarnContext(ctx, "console: revoke", "status", res.StatusCode)
	}
}
