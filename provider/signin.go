package provider

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/audit"
	pwhash "github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/session"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// Account is the browser's current sign-in (plugin.Account has the same
// fields, so cmd converts with plugin.Account(a)).
type Account struct {
	UserID    string
	AuthTime  time.Time
	SessionID string
}

// ErrNotContinuable means an auth request cannot be continued by this
// browser: unknown, expired, not completed, for another user, or started
// in another browser.
var ErrNotContinuable = errors.New("provider: authorization request cannot be continued here")

// errRequestGone is shown when /login gets an unknown or finished request.
var errRequestGone = &web.PageError{Status: http.StatusBadRequest, Title: "errors.gone.title",
	Message: "errors.gone.message"}

const ctxSessionKey = "latchkey.session"

// current returns the browser's live session (looked up once per request).
func (p *Provider) current(c echo.Context) (*session.Session, bool) {
	if s, ok := c.Get(ctxSessionKey).(*session.Session); ok {
		return s, s != nil
	}
	token := web.CookieValue(c.Request(), sessionCookie, p.secure)
	if token == "" {
		c.Set(ctxSessionKey, (*session.Session)(nil))
		return nil, false
	}
	s, err := p.sessions.Lookup(c.Request().Context(), token)
	if err != nil {
		if !errors.Is(err, session.ErrNotFound) {
			slog.WarnContext(c.Request().Context(), "session lookup", "err", err)
		}
		c.Set(ctxSessionKey, (*session.Session)(nil))
		return nil, false
	}
	c.Set(ctxSessionKey, s)
	return s, true
}

// startSession is the only way a browser becomes signed in: password
// sign-in and SSPR completion both call it. It revokes whatever session the
// browser had and issues a brand-new ID and cookie (no fixation), then
// records it for the rest of the request.
func (p *Provider) startSession(c echo.Context, tx *gorm.DB, userID string, amr []string) (*session.Session, error) {
	ctx := c.Request().Context()
	if old, ok := p.current(c); ok {
		if err := p.sessions.Revoke(ctx, old.ID); err != nil {
			return nil, err
		}
	}
	s, token, err := p.sessions.Create(ctx, tx, userID, amr, p.now().UTC())
	if err != nil {
		return nil, err
	}
	c.SetCookie(web.Cookie(sessionCookie, token, p.sessions.TTL(), p.secure))
	if err := web.RotateCSRF(c, p.secure); err != nil {
		return nil, err
	}
	c.Set(ctxSessionKey, s)
	return s, nil
}

// endSession revokes the browser's session and deletes its cookie.
func (p *Provider) endSession(c echo.Context) error {
	if s, ok := p.current(c); ok {
		if err := p.sessions.Revoke(c.Request().Context(), s.ID); err != nil {
			return err
		}
	}
	c.SetCookie(web.Cookie(sessionCookie, "", -1, p.secure))
	c.Set(ctxSessionKey, (*session.Session)(nil))
	return nil
}

// loadRequest returns a stored auth request; errRequestGone when unknown
// or expired.
func (p *Provider) loadRequest(ctx context.Context, id string) (AuthRequest, error) {
	if id == "" || len(id) > 64 {
		return nil, errRequestGone
	}
	ar, err := p.store.AuthRequestByID(ctx, id)
	if err != nil {
		return nil, errRequestGone
	}
	req, ok := ar.(AuthRequest)
	if !ok {
		return nil, fmt.Errorf("provider: storage auth request %T lacks prompt/max_age getters", ar)
	}
	return req, nil
}

// satisfies reports whether session s may answer req without asking the
// user again (OIDC Core §3.1.2.1): no prompt=login, max_age not exceeded,
// and the id_token_hint (if any) names the same user.
func (p *Provider) satisfies(req AuthRequest, s *session.Session) bool {
	if slices.Contains(req.GetPrompt(), oidc.PromptLogin) {
		return false
	}
	if maxAge := req.GetMaxAge(); maxAge != nil && p.now().Sub(s.AuthTime) > *maxAge {
		return false
	}
	if hint := req.GetHintSubject(); hint != "" && hint != s.UserID {
		return false
	}
	return true
}

// completeRequest marks req done by s and returns the OP callback URL.
func (p *Provider) completeRequest(ctx context.Context, req AuthRequest, s *session.Session) (string, error) {
	// The one gate every path to a code passes (password, single sign-on,
	// recovery, a held registration): a temporary password an
	// administrator set is changed before any application gets tokens.
	if u, err := p.users.ByID(ctx, s.UserID); err != nil || u.MustChangePassword {
		if err == nil {
			err = errMustChangePassword
		}
		return "", err
	}
	if owesProof(req, s) {
		return "", errOneProof
	}
	if err := p.store.CompleteAuthRequest(ctx, req.GetID(), s.UserID, s.ID, s.AuthTime, s.AMR); err != nil {
		return "", err
	}
	return p.callback(op.ContextWithIssuer(ctx, p.issuer), req.GetID()), nil
}

// activeUser returns the user if they may still sign in (exists, enabled).
// rememberLocale records the language of the page a user just signed in
// on as theirs (mail sent without a request uses it), when the request
// chose one and it changed. A failure only logs: signing in matters more.
func (p *Provider) rememberLocale(c echo.Context, u *user.User) {
	ctx := c.Request().Context()
	l := i18n.From(ctx)
	if !l.Chosen() || u == nil {
		return
	}
	if err := p.users.RememberLocale(ctx, u.ID, u.Locale, l.Lang()); err != nil {
		slog.WarnContext(ctx, "provider: remember locale", "user", u.ID, "err", err)
	}
}

func (p *Provider) activeUser(ctx context.Context, id string) (*user.User, bool) {
	u, err := p.users.ByID(ctx, id)
	if err != nil || u.Disabled {
		return nil, false
	}
	return u, true
}

type loginPage struct {
	CSRF, AuthRequestID, ClientName, Username string
	// ClientLogo is the app's logo, only when the pages' CSP shows it.
	ClientLogo template.URL
	// Next is the local page to return to after a sign-in that no
	// application asked for (Security info sends people here).
	Next string
	// Error is a message ID (one of the consts below), translated when the
	// page renders.
	Error                 string
	Locked                bool
	LockedUntil           time.Time
	UnlockURL             string
	RecoverURL, ForgotURL string
}

func (p *Provider) renderLogin(c echo.Context, status int, req AuthRequest, pg loginPage) error {
	pg.CSRF = web.CSRFToken(c)
	if pg.Error != "" {
		pg.Error = i18n.From(c.Request().Context()).T(pg.Error)
	}
	q := url.Values{}
	if req == nil {
		pg.Next = nextPage(c)
	}
	if req != nil {
		pg.AuthRequestID = req.GetID()
		q.Set("authRequestID", req.GetID())
		if cl, err := p.store.GetClientByClientID(c.Request().Context(), req.GetClientID()); err == nil {
			if named, ok := cl.(Client); ok {
				pg.ClientName = named.GetName()
			}
			pg.ClientLogo = p.clientLogo(cl)
		}
	}
	pg.RecoverURL = "/recover" + qs(q)
	q.Set("reason", "forgot")
	pg.ForgotURL = "/recover?" + q.Encode()
	q.Set("reason", "unlock")
	pg.UnlockURL = "/recover?" + q.Encode()
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return p.render.Render(c.Response(), c.Request(), "login", pg)
}

// nextPage is the request's "next" parameter when it names a page of
// this site ("/security-info"), else "": never another host (//evil,
// /\evil, https://evil), so the sign-in page is no open redirect.
func nextPage(c echo.Context) string {
	next := c.FormValue("next")
	if len(next) > 512 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\x00\r\n\t") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	return next
}

func qs(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// getLogin shows the sign-in form, or answers the request at once from
// the browser's SSO session when OIDC allows it.
func (p *Provider) getLogin(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.QueryParam("authRequestID")
	if id == "" {
		if _, ok := p.current(c); ok {
			return c.Redirect(http.StatusSeeOther, cmp.Or(nextPage(c), "/"))
		}
		return p.renderLogin(c, http.StatusOK, nil, loginPage{Username: c.QueryParam("username")})
	}
	req, err := p.loadRequest(ctx, id)
	if err != nil {
		return err
	}
	cur, signedIn := p.current(c)
	if _, err := p.binding(c, req, "signin_page", func() string { return p.knownUser(ctx, cur, req, "") }); err != nil {
		return err
	}
	if req.Done() {
		return errRequestGone
	}
	if signedIn && p.satisfies(req, cur) {
		if u, active := p.activeUser(ctx, cur.UserID); active {
			if u.MustChangePassword {
				if slices.Contains(req.GetPrompt(), oidc.PromptNone) {
					p.interactionRequired(c, req)
					return nil
				}
				return p.toChangePassword(c, req, cur)
			}
			// A session sent to register methods that has not done so (nor
			// skipped) meets the registration again, for this request or a
			// new one: answering from the session would skip it.
			next, err := p.heldSSO(c, cur, req)
			switch {
			case errors.Is(err, errAnswered):
				return nil
			case err != nil:
				return err
			case next != "":
				return c.Redirect(http.StatusSeeOther, next)
			}
			if owed, err := p.redirectForProof(c, req, cur); owed {
				return err
			}
			to, err := p.completeRequest(ctx, req, cur)
			if err != nil {
				return errRequestGone
			}
			p.metrics.signin("sso", "ok")
			return c.Redirect(http.StatusSeeOther, to)
		}
	}
	if slices.Contains(req.GetPrompt(), oidc.PromptNone) {
		// No usable session and the client asked for no UI: tell it so.
		p.metrics.signin("sso", "login_required")
		op.AuthRequestError(&issWriter{ResponseWriter: c.Response(), issuer: p.issuer}, c.Request(), req, oidc.ErrLoginRequired(), p.op)
		return nil
	}
	username := c.QueryParam("username")
	if username == "" {
		username = req.GetLoginHint()
	}
	return p.renderLogin(c, http.StatusOK, req, loginPage{Username: username})
}

// errAnswered means the response was already written (an OIDC error
// redirected to the client).
var errAnswered = errors.New("provider: answered")

// heldSSO is where a single sign-on of session s goes instead of the app
// while s still owes a method registration: the registration page again
// (req then waits for it), "" when nothing is owed any more.
func (p *Provider) heldSSO(c echo.Context, s *session.Session, req AuthRequest) (string, error) {
	ctx := c.Request().Context()
	if p.after == nil {
		return "", nil
	}
	held, err := p.sessions.SessionHeld(ctx, s.ID)
	if err != nil || !held {
		return "", err
	}
	if slices.Contains(req.GetPrompt(), oidc.PromptNone) {
		p.interactionRequired(c, req)
		return "", errAnswered
	}
	next, err := p.after.AfterSignIn(c, s.UserID, req.GetID())
	if err != nil {
		slog.ErrorContext(ctx, "after sign-in hook", "err", err, "user", s.UserID)
		return "", nil
	}
	if next == "" {
		return "", nil
	}
	if err := p.sessions.Hold(ctx, req.GetID(), s.ID); err != nil {
		return "", err
	}
	return next, nil
}

// toChangePassword sends session s, signed in with a temporary password,
// to the change-password page. The request it signed in for (nil when
// none) is held for s and named in the page's URL, so the change can
// continue it (ContinueURL): the browser that started it lands back in the
// app instead of on Security info.
func (p *Provider) toChangePassword(c echo.Context, req AuthRequest, s *session.Session) error {
	to := p.changePassword
	if req != nil {
		if err := p.sessions.Hold(c.Request().Context(), req.GetID(), s.ID); err != nil {
			return err
		}
		to += "?" + url.Values{"authRequestID": {req.GetID()}}.Encode()
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// interactionRequired answers a prompt=none request that needs a page
// first (a registration, the change of a temporary password) with the
// OIDC error at the client: the client asked for no page.
func (p *Provider) interactionRequired(c echo.Context, req AuthRequest) {
	p.metrics.signin("sso", "interaction_required")
	op.AuthRequestError(&issWriter{ResponseWriter: c.Response(), issuer: p.issuer}, c.Request(), req, oidc.ErrInteractionRequired(), p.op)
}

// errMustChangePassword: the user signed in with a temporary password and
// has not changed it yet, so no request of theirs completes.
var errMustChangePassword = errors.New("provider: the temporary password must be changed first")

// ipLimited answers an address with too many failed sign-ins; the
// password is not even checked.
const ipLimited = "signin.error.ip_limited"

// wrongAccount answers a login that is not the user the application named.
const wrongAccount = "signin.error.wrong_account"

// hasherBusy answers an attempt that found every password check busy and
// the queue in front of them full (503 with Retry-After).
const hasherBusy = "signin.error.busy"

// wrongCredentials is the one message for unknown user, wrong password and
// disabled account, so the page never tells which it was.
const wrongCredentials = "signin.error.wrong_credentials" // #nosec G101 -- a message ID, not a credential

// missingCredentials answers a form without username or password.
const missingCredentials = "signin.error.missing"

// postLogin checks the password, starts a session and continues the
// request with a 303 (never 307, which would re-post the password).
func (p *Provider) postLogin(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.FormValue("authRequestID")
	username := c.FormValue("username")
	password := c.FormValue("password")
	var req AuthRequest
	if id != "" {
		var err error
		if req, err = p.loadRequest(ctx, id); err != nil {
			return err
		}
		// Before the password is even checked: a password typed into a
		// request another browser started must not complete it.
		cur, _ := p.current(c)
		if _, err := p.binding(c, req, "pwd", func() string { return p.knownUser(ctx, cur, req, username) }); err != nil {
			return err
		}
		if req.Done() {
			return errRequestGone
		}
	}
	if username == "" || password == "" || len(username) > 256 || len(password) > 1024 {
		return p.renderLogin(c, http.StatusUnauthorized, req, loginPage{Username: username, Error: missingCredentials})
	}
	// The attempt is reserved against the per-IP limit before anything
	// else: beyond it no password is hashed at all.
	reserved, err := p.reserveAttempt(c)
	if err != nil {
		return err
	}
	if !reserved {
		p.metrics.signin("pwd", "ip_limited")
		p.record(c, audit.SignInFailed, "unknown", audit.Blocked, map[string]any{"reason": "ip_limited"})
		return p.renderLogin(c, http.StatusTooManyRequests, req, loginPage{Username: username, Error: ipLimited})
	}
	// Who the login names, for the audit log's user ID of failures. (One
	// indexed read; the password hash dominates the cost either way.)
	known, _ := p.users.ByLogin(ctx, username)
	auditID := "unknown"
	if known != nil {
		auditID = known.ID
	}
	// An application that named the user (id_token_hint) gets only that
	// user: a login naming anyone else is refused before its password is
	// checked, so the page never tells a right password of another
	// account from a wrong one, and that account's counters are untouched.
	hint := ""
	if req != nil {
		hint = req.GetHintSubject()
	}
	u, err := p.users.AuthenticateAs(ctx, username, password, hint)
	var locked *user.LockedError
	switch {
	case errors.Is(err, user.ErrOtherUser):
		// Counted against the address like a failure (no refund): the page
		// must not become a free way to probe logins.
		p.metrics.signin("pwd", "wrong_account")
		p.record(c, audit.SignInFailed, auditID, audit.Fail, map[string]any{"reason": "wrong_account"})
		return p.renderLogin(c, http.StatusForbidden, req, loginPage{Username: username, Error: wrongAccount})
	case errors.As(err, &locked):
		p.metrics.signin("pwd", "locked")
		if locked.Triggered {
			p.record(c, audit.Lockout, auditID, audit.Blocked, map[string]any{"until": locked.Until.UTC().Format(time.RFC3339)})
		} else {
			// Refused with no password checked: not a failure of this address.
			p.refundAttempt(c)
		}
		p.record(c, audit.SignInFailed, auditID, audit.Blocked, map[string]any{"reason": "locked"})
		return p.renderLogin(c, http.StatusForbidden, req, loginPage{Username: username, Locked: true,
			LockedUntil: locked.Until})
	case errors.Is(err, user.ErrBadCredentials), errors.Is(err, user.ErrNotFound), errors.Is(err, user.ErrDisabled):
		outcome := "bad_credentials"
		if errors.Is(err, user.ErrDisabled) {
			outcome = "disabled"
		}
		p.metrics.signin("pwd", outcome)
		p.record(c, audit.SignInFailed, auditID, audit.Fail, map[string]any{"reason": outcome})
		return p.renderLogin(c, http.StatusUnauthorized, req, loginPage{Username: username, Error: wrongCredentials})
	case errors.Is(err, pwhash.ErrBusy):
		p.refundAttempt(c)
		p.metrics.signin("pwd", "busy")
		c.Response().Header().Set("Retry-After", "1")
		return p.renderLogin(c, http.StatusServiceUnavailable, req, loginPage{Username: username, Error: hasherBusy})
	case err != nil:
		p.refundAttempt(c)
		p.metrics.signin("pwd", "error")
		return err
	}
	p.refundAttempt(c)
	s, err := p.startSession(c, nil, u.ID, []string{"pwd"})
	if err != nil {
		return err
	}
	// A reset, disable or lock that committed while this password was being
	// checked revoked everything before it, but not this session, made
	// after: the account is read again, and a changed one ends the session.
	if now, err := p.users.ByID(ctx, u.ID); err != nil || now.Disabled ||
		!now.PasswordChangedAt.Equal(u.PasswordChangedAt) || now.Locked(p.now()) {
		if rerr := p.endSession(c); rerr != nil {
			return rerr
		}
		if err != nil && !errors.Is(err, user.ErrNotFound) {
			return err
		}
		p.metrics.signin("pwd", "bad_credentials")
		p.record(c, audit.SignInFailed, u.ID, audit.Fail, map[string]any{"reason": "changed_meanwhile"})
		return p.renderLogin(c, http.StatusUnauthorized, req, loginPage{Username: username, Error: wrongCredentials})
	}
	p.metrics.signin("pwd", "ok")
	p.rememberLocale(c, u)
	detail := map[string]any{"amr": s.AMR, "session": s.ID}
	if req != nil {
		detail["client"] = req.GetClientID()
	}
	if u.MustChangePassword {
		// Signed in only to change the temporary password: no code, no
		// registration reminder until it is changed (completeRequest
		// refuses the request meanwhile).
		detail["must_change_password"] = true
		p.record(c, audit.SignIn, u.ID, audit.OK, detail)
		return p.toChangePassword(c, req, s)
	}
	p.record(c, audit.SignIn, u.ID, audit.OK, detail)

	to := cmp.Or(nextPage(c), "/")
	if p.after != nil {
		next, err := p.after.AfterSignIn(c, u.ID, id)
		switch {
		case err != nil:
			// The user is signed in; a failing hook (e.g. registration
			// reminder) must not lock them out of the application.
			slog.ErrorContext(ctx, "after sign-in hook", "err", err, "user", u.ID)
		case next != "" && req != nil:
			// The request stays pending until the registration is done or
			// skipped (ContinueURL): completed now, its callback would hand
			// out the code to a user who simply skipped the page.
			if err := p.sessions.Hold(ctx, req.GetID(), s.ID); err != nil {
				return err
			}
			return c.Redirect(http.StatusSeeOther, next)
		case next != "":
			to = next
		}
	}
	if owed, err := p.redirectForProof(c, req, s); owed {
		return err
	}
	if req != nil {
		if to, err = p.completeRequest(ctx, req, s); err != nil {
			return errRequestGone
		}
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// reserveAttempt counts this sign-in attempt against the per-IP limit
// before its password is checked; false means the limit is reached, and
// the answer carries Retry-After.
func (p *Provider) reserveAttempt(c echo.Context) (bool, error) {
	if p.throttle == nil {
		return true, nil
	}
	ok, wait, err := p.throttle.Reserve(c.Request().Context(), c.RealIP())
	if err != nil {
		return false, err
	}
	if !ok {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(max(wait.Round(time.Second), time.Second)/time.Second)))
	}
	return ok, nil
}

// refundAttempt gives back the reservation of an attempt that did not
// fail. A failing write is logged: it can only make the limit stricter.
func (p *Provider) refundAttempt(c echo.Context) {
	if p.throttle == nil {
		return
	}
	if err := p.throttle.Refund(c.Request().Context(), c.RealIP()); err != nil {
		slog.WarnContext(c.Request().Context(), "login throttle refund", "err", err)
	}
}

// record writes an audit event; a failing audit write is logged, not shown.
func (p *Provider) record(c echo.Context, typ, userID, outcome string, detail map[string]any) {
	d := ""
	if detail != nil {
		if b, err := json.Marshal(detail); err == nil {
			d = string(b)
		}
	}
	e := audit.Event{Type: typ, UserID: userID, IP: c.RealIP(), UserAgent: c.Request().UserAgent(), Outcome: outcome, Detail: d}
	if err := p.audit.Record(c.Request().Context(), e); err != nil {
		slog.WarnContext(c.Request().Context(), "audit write failed", "type", typ, "err", err)
	}
}

// clientLogo is the app's logo for its sign-in and consent pages, only
// when the pages' CSP shows it (a data:image URL or one on the issuer).
func (p *Provider) clientLogo(cl any) template.URL {
	l, ok := cl.(interface{ LogoURI() string })
	if !ok || l.LogoURI() == "" || ui.LogoProblem(l.LogoURI(), p.issuer) != "" {
		return ""
	}
	return template.URL(l.LogoURI()) // #nosec G203 -- ui.LogoProblem let only a base64 data:image URL or one on the issuer's origin through
}
