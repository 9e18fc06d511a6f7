package provider

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

func opIssuerCtx(ctx context.Context, issuer string) context.Context {
	return op.ContextWithIssuer(ctx, issuer)
}

// scopeText names the message describing a scope to the person deciding
// on consent.
var scopeText = map[string]string{
	oidc.ScopeOpenID:        "signin.scope.openid",
	oidc.ScopeProfile:       "signin.scope.profile",
	oidc.ScopeEmail:         "signin.scope.email",
	oidc.ScopePhone:         "signin.scope.phone",
	oidc.ScopeAddress:       "signin.scope.address",
	oidc.ScopeOfflineAccess: "signin.scope.offline_access",
	"groups":                "signin.scope.groups",
	opstore.ScopeAdmin:      "signin.scope.admin",
}

func describeScopes(l *i18n.Localizer, scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		if id, ok := scopeText[s]; ok {
			out = append(out, l.T(id))
		} else {
			out = append(out, l.T("signin.scope.other", "Scope", s))
		}
	}
	return out
}

// needsConsent runs before the OP's callback: a third-party client gets no
// code until the user has allowed it the requested scopes. It answers the
// request itself (redirect to /consent, or consent_required for
// prompt=none) and returns true, or returns false to let the OP continue.
func (p *Provider) needsConsent(w http.ResponseWriter, r *http.Request) bool {
	ctx := r.Context()
	req, err := p.loadRequest(ctx, r.URL.Query().Get("id"))
	if err != nil || !req.Done() {
		return false // the OP answers unknown or unfinished requests itself
	}
	cl, err := p.store.GetClientByClientID(ctx, req.GetClientID())
	if err != nil {
		return false
	}
	if c, ok := cl.(Client); !ok || !c.IsThirdParty() {
		return false
	}
	has, err := p.store.HasConsent(ctx, req.GetSubject(), req.GetClientID(), req.GetScopes())
	if err != nil {
		p.renderPlain(w, r, http.StatusInternalServerError, "errors.internal.title", "errors.internal.message")
		return true
	}
	// prompt=consent asks again even when consent is stored; the answer
	// given for this very request is carried by a short-lived MACed cookie.
	if slices.Contains(req.GetPrompt(), oidc.PromptConsent) && !p.consentedNow(r, req.GetID()) {
		has = false
	}
	if has {
		return false
	}
	if slices.Contains(req.GetPrompt(), oidc.PromptNone) {
		op.AuthRequestError(&issWriter{ResponseWriter: w, issuer: p.issuer}, r, req, &oidc.Error{ErrorType: "consent_required", Description: "the user has not allowed this application"}, p.op)
		return true
	}
	http.Redirect(w, r, p.issuer+"/consent?authRequestID="+url.QueryEscape(req.GetID()), http.StatusSeeOther)
	return true
}

// consentRequest loads a completed request of a third-party client for the
// browser's signed-in user.
func (p *Provider) consentRequest(c echo.Context) (AuthRequest, Client, error) {
	ctx := c.Request().Context()
	id := c.QueryParam("authRequestID")
	if id == "" {
		id = c.FormValue("authRequestID")
	}
	req, err := p.loadRequest(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	s, ok := p.current(c)
	if !ok || !req.Done() || req.GetSubject() != s.UserID {
		return nil, nil, errRequestGone
	}
	cl, err := p.store.GetClientByClientID(ctx, req.GetClientID())
	if err != nil {
		return nil, nil, errRequestGone
	}
	client, ok := cl.(Client)
	if !ok || !client.IsThirdParty() {
		return nil, nil, errRequestGone
	}
	return req, client, nil
}

// page renders a template with status.
func (p *Provider) page(c echo.Context, status int, name string, data any) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return p.render.Render(c.Response(), c.Request(), name, data)
}

func (p *Provider) getConsent(c echo.Context) error {
	req, client, err := p.consentRequest(c)
	if err != nil {
		return err
	}
	username := ""
	if u, ok := p.activeUser(c.Request().Context(), req.GetSubject()); ok {
		username = u.Username
	}
	return p.page(c, http.StatusOK, "consent", map[string]any{
		"CSRF": web.CSRFToken(c), "AuthRequestID": req.GetID(), "ClientName": client.GetName(), "ClientLogo": p.clientLogo(client),
		"Username": username, "Scopes": describeScopes(i18n.From(c.Request().Context()), req.GetScopes()),
	})
}

// postConsent records the decision. Allow: remembered per user and client,
// then on to the OP callback. Deny: access_denied to the client.
func (p *Provider) postConsent(c echo.Context) error {
	req, _, err := p.consentRequest(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if c.FormValue("decision") != "allow" {
		p.record(c, "consent.denied", req.GetSubject(), "fail", map[string]any{"client": req.GetClientID()})
		op.AuthRequestError(&issWriter{ResponseWriter: c.Response(), issuer: p.issuer}, c.Request(), req, oidc.ErrAccessDenied().WithDescription("the user denied access"), p.op)
		return nil
	}
	if err := p.store.SaveConsent(ctx, req.GetSubject(), req.GetClientID(), req.GetScopes()); err != nil {
		return err
	}
	p.record(c, "consent.granted", req.GetSubject(), "ok", map[string]any{"client": req.GetClientID(), "scopes": req.GetScopes()})
	c.SetCookie(web.Cookie(consentCookie, p.consentMark(req.GetID()), 5*time.Minute, p.secure))
	return c.Redirect(http.StatusSeeOther, p.callback(opIssuerCtx(ctx, p.issuer), req.GetID()))
}

// getLogout ends the browser's session (the OP's end_session sends people
// here) and forwards to the post-logout redirect the OP validated, which
// arrives MACed; anything else shows the signed-out page.
func (p *Provider) getLogout(c echo.Context) error {
	if err := p.endSession(c); err != nil {
		return err
	}
	to, sig := c.QueryParam("to"), c.QueryParam("sig")
	if to != "" && p.checkLogoutSig(to, sig) {
		return c.Redirect(http.StatusFound, to)
	}
	return p.page(c, http.StatusOK, "logout", map[string]any{})
}

// postLogout is the sign-out button of the account page.
func (p *Provider) postLogout(c echo.Context) error {
	if err := p.endSession(c); err != nil {
		return err
	}
	return p.page(c, http.StatusOK, "logout", map[string]any{})
}

// getAccount is the signed-in landing page; it links to Security info.
func (p *Provider) getAccount(c echo.Context) error {
	s, ok := p.current(c)
	if !ok {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	u, ok := p.activeUser(c.Request().Context(), s.UserID)
	if !ok {
		if err := p.endSession(c); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	name := u.DisplayName
	if name == "" {
		name = u.Username
	}
	return p.page(c, http.StatusOK, "signedin", map[string]any{
		"CSRF": web.CSRFToken(c), "DisplayName": name, "Username": u.Username,
		"Since": s.AuthTime,
	})
}

// consentCookie marks "consent was just given for this auth request".
const consentCookie = "lk_consented"

func (p *Provider) consentMark(authRequestID string) string {
	return authRequestID + "." + base64.RawURLEncoding.EncodeToString(p.keyring.MAC("consented", authRequestID))
}

func (p *Provider) consentedNow(r *http.Request, authRequestID string) bool {
	got := web.CookieValue(r, consentCookie, p.secure)
	i := strings.LastIndexByte(got, '.')
	if i < 0 || got[:i] != authRequestID {
		return false
	}
	mac, err := base64.RawURLEncoding.DecodeString(got[i+1:])
	if err != nil {
		return false
	}
	ok, _ := p.keyring.Verify(mac, "consented", authRequestID)
	return ok
}
