package provider

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/session"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui/i18n"
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
// pending, was started in this browser (binding cookie set at /authorize)
// and does not name another user in its id_token_hint, it is marked done
// and the OP callback URL is returned; otherwise "" (the page then says
// "return to the application"), and a request of another browser is
// audited. amr must describe the proofs used; "pwd" is refused
// because no password was entered.
func (p *Provider) Complete(c echo.Context, userID string, amr []string, authRequestID string) (string, error) {
	ctx := c.Request().Context()
	for _, m := range amr {
		if m == "pwd" {
			return "", errors.New("provider: complete: amr must not claim pwd")
		}
	}
	u, ok := p.activeUser(ctx, userID)
	if !ok {
		return "", errors.New("provider: complete: user missing or disabled")
	}
	s, err := p.startSession(c, nil, userID, amr)
	if err != nil {
		return "", err
	}
	p.rememberLocale(c, u)
	detail := map[string]any{"amr": amr, "session": s.ID, "via": "recovery"}
	p.record(c, audit.SignIn, userID, audit.OK, detail)
	p.metrics.signin("recovery", "ok")
	if authRequestID == "" {
		return "", nil
	}
	req, err := p.loadRequest(ctx, authRequestID)
	if err != nil {
		return "", nil
	}
	_, err = p.sessions.Binding(ctx, authRequestID, web.CookieValue(c.Request(), bindCookie, p.secure))
	if errors.Is(err, session.ErrNotBound) {
		// A recovery finished on another device: that browser is signed
		// in, the code stays with the browser that started the request
		// (which may still sign in there, so the request is not burnt).
		p.otherBrowser(c.Request(), req, "recovery", userID, false)
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if req.Done() {
		return "", nil
	}
	if hint := req.GetHintSubject(); hint != "" && hint != userID {
		return "", nil
	}
	if owesProof(req, s) {
		// The app asked for two proofs; the recovery's count as given.
		return p.secondProofURL(req), nil
	}
	to, err := p.completeRequest(ctx, req, s)
	if err != nil {
		return "", nil // completed or expired meanwhile: nothing to continue
	}
	return to, nil
}

// ContinueURL completes the request that password sign-in held for this
// browser's session, once the plugin says what it was held for is done:
// the security-method registration (done or skipped) or the change of a
// temporary password. It returns the OP callback URL. Only the session
// the request was held for, in the browser that started the request, can
// continue it. A request completed earlier (by
// an older instance during a rolling update) is continued as before.
func (p *Provider) ContinueURL(c echo.Context, authRequestID string) (string, error) {
	ctx := c.Request().Context()
	cur, ok := p.current(c)
	if !ok {
		return "", errNotContinuable
	}
	// Read afresh, not from this request's cache: a password change made
	// earlier in the same request (the change-password page continues the
	// request it was sent from) moved the session's auth_time to the
	// sign-out cut-off, and a request completed with the old one would get
	// no code.
	s, err := p.sessions.Get(ctx, cur.ID)
	if err != nil {
		return "", errNotContinuable
	}
	req, err := p.loadRequest(ctx, authRequestID)
	if err != nil {
		return "", errNotContinuable
	}
	b, err := p.binding(c, req, "registration", func() string { return s.UserID })
	if err != nil {
		return "", err
	}
	if req.Done() {
		if req.GetSubject() != s.UserID || req.GetSessionID() != s.ID {
			return "", errNotContinuable
		}
		return p.callback(opIssuerCtx(ctx, p.issuer), authRequestID), nil
	}
	if b.HoldSession != s.ID {
		// Not held for this session: released already when the session
		// settled its registration for another request (then it may
		// continue as a single sign-on would), or held for another one.
		held, err := p.sessions.SessionHeld(ctx, s.ID)
		if err != nil {
			return "", err
		}
		if b.HoldSession != "" || held || !p.satisfies(req, s) {
			return "", errNotContinuable
		}
	}
	if hint := req.GetHintSubject(); hint != "" && hint != s.UserID {
		return "", errNotContinuable
	}
	if _, active := p.activeUser(ctx, s.UserID); !active {
		return "", errNotContinuable
	}
	if owesProof(req, s) {
		// Registration settled; the request still needs a second proof.
		if err := p.sessions.Release(ctx, s.ID); err != nil {
			return "", err
		}
		return p.secondProofURL(req), nil
	}
	to, err := p.completeRequest(ctx, req, s)
	if err != nil {
		return "", errNotContinuable
	}
	// Registration done or skipped: settled for the whole session.
	if err := p.sessions.Release(ctx, s.ID); err != nil {
		return "", err
	}
	return to, nil
}

// errNotContinuable is ErrNotContinuable as the page the browser sees.
var errNotContinuable = &web.PageError{Status: http.StatusBadRequest, Title: "errors.not_continuable.title",
	Message: "errors.gone.message", Err: ErrNotContinuable}

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

// UILocales returns the ui_locales of a pending auth request and when it
// began ("" when it has none or is unknown), so the plugin's pages of that
// sign-in speak its language.
func (p *Provider) UILocales(ctx context.Context, authRequestID string) (string, time.Time) {
	req, err := p.loadRequest(ctx, authRequestID)
	if err != nil {
		return "", time.Time{}
	}
	return uiLocalesOf(req)
}

// uiLocalesOf reads what opstore's requests offer beyond op.AuthRequest.
func uiLocalesOf(req AuthRequest) (string, time.Time) {
	l, ok := req.(interface {
		GetUILocales() []string
		GetCreatedAt() time.Time
	})
	if !ok {
		return "", time.Time{}
	}
	return strings.Join(l.GetUILocales(), " "), l.GetCreatedAt()
}

// signInLanguage lets the ui_locales of the sign-in a page names
// (authRequestID in its query or form) choose the page's language.
func (p *Provider) signInLanguage(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if id := c.FormValue("authRequestID"); id != "" {
			if req, err := p.loadRequest(c.Request().Context(), id); err == nil {
				if locales, began := uiLocalesOf(req); locales != "" {
					c.SetRequest(i18n.Hint(c.Request(), locales, began))
				}
			}
		}
		return next(c)
	}
}

// LoginPath is the relative sign-in URL the OP storage gives as every
// client's LoginURL; the OP resolves it against the issuer.
func LoginPath(authRequestID string) string {
	return "/login?authRequestID=" + url.QueryEscape(authRequestID)
}
