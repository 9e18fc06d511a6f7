package provider

import (
	"context"
	"errors"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/provider/audit"
)

// The methods in this file are the plugin.SignIn contract: the SSPR plugin
// signs a browser in after a recovery and continues the request the user
// started at the application, without knowing anything about OIDC.

// Current returns the browser's signed-in account, false when none.
func (p *Provider) Current(c echo.Context) (Account, bool) {
	s, ok := p.current(c)
	if !ok {
		return Account{}, false
	}
	return Account{UserID: s.UserID, AuthTime: s.AuthTime, SessionID: s.ID}, true
}

// Complete signs the browser in as userID through the same session code as
// a password sign-in (new session ID, amr as given). When authRequestID is
// pending, was opened in this browser (binding cookie) and does not name
// another user in its id_token_hint, it is marked done and the OP callback
// URL is returned; otherwise "" (the page then says "return to the
// application"). amr must describe the proofs used; "pwd" is refused
// because no password was entered.
func (p *Provider) Complete(c echo.Context, userID string, amr []string, authRequestID string) (string, error) {
	ctx := c.Request().Context()
	for _, m := range amr {
		if m == "pwd" {
			return "", errors.New("provider: complete: amr must not claim pwd")
		}
	}
	if _, ok := p.activeUser(ctx, userID); !ok {
		return "", errors.New("provider: complete: user missing or disabled")
	}
	s, err := p.startSession(c, nil, userID, amr)
	if err != nil {
		return "", err
	}
	detail := map[string]any{"amr": amr, "session": s.ID, "via": "recovery"}
	p.record(c, audit.SignIn, userID, audit.OK, detail)
	p.metrics.signin("recovery", "ok")
	if authRequestID == "" {
		return "", nil
	}
	bound, err := p.boundHere(c, authRequestID)
	if err != nil || !bound {
		return "", err
	}
	req, err := p.loadRequest(ctx, authRequestID)
	if err != nil || req.Done() {
		return "", nil
	}
	if hint := req.GetHintSubject(); hint != "" && hint != userID {
		return "", nil
	}
	to, err := p.completeRequest(ctx, req, s)
	if err != nil {
		return "", nil // completed or expired meanwhile: nothing to continue
	}
	return to, nil
}

// ContinueURL returns the OP callback URL of a request already completed by
// this browser's user (after the AfterSignIn hook sent them elsewhere).
func (p *Provider) ContinueURL(c echo.Context, authRequestID string) (string, error) {
	ctx := c.Request().Context()
	s, ok := p.current(c)
	if !ok {
		return "", ErrNotContinuable
	}
	req, err := p.loadRequest(ctx, authRequestID)
	if err != nil || !req.Done() || req.GetSubject() != s.UserID {
		return "", ErrNotContinuable
	}
	if bound, err := p.boundHere(c, authRequestID); err != nil || !bound {
		return "", ErrNotContinuable
	}
	return p.callback(opIssuerCtx(ctx, p.issuer), authRequestID), nil
}

// LoginURL is the absolute sign-in page URL for a pending request with the
// username prefilled.
func (p *Provider) LoginURL(authRequestID, username string) string {
	q := url.Values{}
	if authRequestID != "" {
		q.Set("authRequestID", authRequestID)
	}
	if username != "" {
		q.Set("username", username)
	}
	return p.issuer + "/login" + qs(q)
}

// AppName names the application an auth request comes from (the client's
// display name, else its ID), so a push can tell the user which sign-in it
// approves; "" when the request is unknown or expired.
func (p *Provider) AppName(ctx context.Context, authRequestID string) string {
	req, err := p.loadRequest(ctx, authRequestID)
	if err != nil {
		return ""
	}
	if cl, err := p.store.GetClientByClientID(ctx, req.GetClientID()); err == nil {
		if named, ok := cl.(Client); ok && named.GetName() != "" {
			return named.GetName()
		}
	}
	return req.GetClientID()
}

// LoginPath is the relative sign-in URL the OP storage gives as every
// client's LoginURL; the OP resolves it against the issuer.
func LoginPath(authRequestID string) string {
	return "/login?authRequestID=" + url.QueryEscape(authRequestID)
}
