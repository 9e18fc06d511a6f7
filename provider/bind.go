package provider

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/session"
	"github.com/latchkeyid/latchkey/provider/web"
)

// Every authorization request belongs to the browser that called
// /authorize: a random per-browser token in the lk_bind cookie, whose hash
// is stored with the request id when the OP creates the request. The
// sign-in page, every completion and the OP callback insist on it. Without
// this, a person could start a sign-in at an app, send the genuine sign-in
// link to a victim and, once the victim signed in there, collect the code
// at the callback in his own browser.

// OtherBrowserMessage is what a browser sees when it presents an
// authorization request another browser started.
const OtherBrowserMessage = "This sign-in was started on another device or browser. Go back to the app and start again."

// AuditOtherBrowser is the audit event of such an attempt.
const AuditOtherBrowser = "signin.other_browser"

// The page says OtherBrowserMessage in English: errors.other_browser.message.
var errOtherBrowser = &web.PageError{Status: http.StatusForbidden, Title: "errors.other_browser.title",
	Message: "errors.other_browser.message", Err: ErrNotContinuable}

type bindTokenKey struct{}

// issueBindToken gives the browser calling /authorize its binding token
// (reusing one it already has, so parallel sign-ins in one browser share
// it) and returns r carrying it for CreateAuthRequest.
func (p *Provider) issueBindToken(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
	token := web.CookieValue(r, bindCookie, p.secure)
	if !validBindToken(token) {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("provider: bind token: %w", err)
		}
		token = base64.RawURLEncoding.EncodeToString(b[:])
		// SameSite=Lax: the app sends the browser here with a top-level
		// redirect, and the callback is a top-level GET; HttpOnly so no
		// script on any page of ours can read or move it.
		http.SetCookie(w, web.Cookie(bindCookie, token, 0, p.secure))
	}
	return r.WithContext(context.WithValue(r.Context(), bindTokenKey{}, token)), nil
}

func validBindToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// CreateAuthRequest stores the request and its browser binding. A request
// reaching storage without a token (not through /authorize's interceptor)
// is refused: no request may exist that any browser could complete.
func (s *opStorage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	token, _ := ctx.Value(bindTokenKey{}).(string)
	if token == "" {
		return nil, errors.New("provider: authorization request without a browser binding")
	}
	ar, err := s.Storage.CreateAuthRequest(ctx, req, userID)
	if err != nil {
		return nil, err
	}
	if err := s.p.sessions.Bind(ctx, ar.GetID(), token, authRequestTTL); err != nil {
		return nil, err
	}
	return ar, nil
}

// binding returns req's binding when this browser holds it. Otherwise the
// attempt is audited and the request is made unusable (burn): a request
// that turns up in a second browser is a forwarded link, and the browser
// that started it must start again.
// who names the user for the audit row (only called when refusing).
func (p *Provider) binding(c echo.Context, req AuthRequest, where string, who func() string) (*session.Binding, error) {
	b, err := p.sessions.Binding(c.Request().Context(), req.GetID(), web.CookieValue(c.Request(), bindCookie, p.secure))
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, session.ErrNotBound) {
		return nil, err
	}
	p.otherBrowser(c.Request(), req, where, who(), true)
	return nil, errOtherBrowser
}

// otherBrowser audits a request presented by a browser that did not start
// it, and with burn deletes its binding.
func (p *Provider) otherBrowser(r *http.Request, req AuthRequest, where, userID string, burn bool) {
	ctx := r.Context()
	if userID == "" {
		userID = "unknown"
	}
	d, _ := json.Marshal(map[string]any{"auth_request": req.GetID(), "client": req.GetClientID(), "at": where})
	e := audit.Event{Type: AuditOtherBrowser, UserID: userID, IP: p.ipx(r), UserAgent: r.UserAgent(),
		Outcome: audit.Blocked, Detail: string(d)}
	if err := p.audit.Record(ctx, e); err != nil {
		slog.WarnContext(ctx, "audit write failed", "type", e.Type, "err", err)
	}
	p.metrics.signin(where, "other_browser")
	if burn {
		if err := p.sessions.Unbind(ctx, req.GetID()); err != nil {
			slog.WarnContext(ctx, "unbind", "err", err)
		}
	}
}

// knownUser is the user an attempt is about, for the audit log: the
// browser's session, else the one who completed the request, else the
// login typed, else the id_token_hint's subject.
func (p *Provider) knownUser(ctx context.Context, s *session.Session, req AuthRequest, login string) string {
	switch {
	case s != nil:
		return s.UserID
	case req.Done():
		return req.GetSubject()
	case login != "":
		if u, err := p.users.ByLogin(ctx, login); err == nil {
			return u.ID
		}
	}
	return req.GetHintSubject()
}

// callbackAllowed runs before the OP's /authorize/callback: the code goes
// only to the browser that started the request, and for a completed
// request only to the browser whose session completed it. Otherwise it
// answers with the plain page and returns false. Unknown requests are left
// to the OP.
func (p *Provider) callbackAllowed(w http.ResponseWriter, r *http.Request) bool {
	ctx := r.Context()
	req, err := p.loadRequest(ctx, r.URL.Query().Get("id"))
	if err != nil {
		return true
	}
	var s *session.Session
	if tok := web.CookieValue(r, sessionCookie, p.secure); tok != "" {
		s, _ = p.sessions.Lookup(ctx, tok)
	}
	_, err = p.sessions.Binding(ctx, req.GetID(), web.CookieValue(r, bindCookie, p.secure))
	switch {
	case err != nil && !errors.Is(err, session.ErrNotBound):
		slog.ErrorContext(ctx, "callback binding", "err", err)
		p.renderPlain(w, r, http.StatusInternalServerError, "errors.internal.title", "errors.internal.message")
		return false
	case err == nil && (!req.Done() || (s != nil && s.ID == req.GetSessionID())):
		return true
	}
	p.otherBrowser(r, req, "callback", p.knownUser(ctx, s, req, ""), true)
	p.renderPlain(w, r, http.StatusForbidden, errOtherBrowser.Title, errOtherBrowser.Message)
	return false
}
