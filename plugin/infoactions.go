package plugin

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// Audit event of "sign out everywhere" (alone or with a lost device).
const eventSignedOutEverywhere = "signout.everywhere"

// doneNotice is the notice Security info shows after a change, by the
// fixed word a redirect carries (?done=added); any other word shows none.
func doneNotice(l *i18n.Localizer, done string) string {
	switch done {
	case "added":
		return l.T("securityinfo.notice.added")
	case "removed":
		return l.T("securityinfo.notice.removed")
	case "confirmed":
		return l.T("securityinfo.notice.confirmed")
	}
	return ""
}

// removePage (GET /security-info/remove/:enrollment) asks before a method
// is deleted, as a page of its own so it works without JavaScript, and
// offers "I lost this device" beside it.
func (p *securityInfo) removePage(c echo.Context) error {
	a, err := p.steppedUp(c)
	if err != nil {
		return done(err)
	}
	id := c.Param("enrollment")
	for _, v := range p.rows(i18n.From(c.Request().Context()), a.methods, p.d.Now()) {
		if v.ID == id {
			return p.render(c, http.StatusOK, "security-info-remove", map[string]any{
				"Row": v, "Last": len(a.methods) == 1, "Device": p.info(method.Name(v.Method)).App ||
					method.Name(v.Method) == method.Mobile})
		}
	}
	return p.renderInfo(c, a, i18n.From(c.Request().Context()).T("securityinfo.remove.gone"))
}

// remove (POST /security-info/remove) deletes a method after the
// confirmation page; with lost=yes it also signs out everywhere, for a
// lost or stolen device, in one step.
func (p *securityInfo) remove(c echo.Context) error {
	ctx := c.Request().Context()
	in, err := form(c, "enrollment", "lost")
	if err != nil {
		return err
	}
	a, err := p.steppedUp(c)
	if err != nil {
		return done(err)
	}
	e, err := p.d.Enrollments.Get(ctx, a.u.ID, in["enrollment"])
	if err != nil {
		return p.renderInfo(c, a, i18n.From(c.Request().Context()).T("securityinfo.remove.gone"))
	}
	// Notify before deleting, so the removed address hears of it too.
	if err := p.notifyOthers(c, a.u, noticeMethodRemoved, note{Kind: e.Method, Label: e.Label}); err != nil {
		return err
	}
	if err := p.d.Enrollments.Delete(ctx, a.u.ID, e.ID); err != nil && !errors.Is(err, method.ErrNotFound) {
		return err
	}
	if err := p.record(c, audit.MethodRemoved, a.u.ID, "", audit.OK, string(e.Method)+" "+e.Label); err != nil {
		return err
	}
	if in["lost"] == "yes" {
		return p.signOutEverywhere(c, a, "lost "+string(e.Method)+" "+e.Label, i18n.From(ctx).T("securityinfo.signedout.lost"))
	}
	return see(c, p.path("/security-info?done=removed"))
}

// signOut (POST /security-info/sign-out-everywhere) ends every session
// and token of the user, this browser's included.
func (p *securityInfo) signOut(c echo.Context) error {
	if _, err := form(c); err != nil {
		return err
	}
	a, err := p.steppedUp(c)
	if err != nil {
		return done(err)
	}
	return p.signOutEverywhere(c, a, "security info", i18n.From(c.Request().Context()).T("securityinfo.signedout.text"))
}

// signOutEverywhere revokes everything issued to the user through the
// provider (sessions, tokens, requests, and the plugin's flows), audited
// in the same transaction.
func (p *securityInfo) signOutEverywhere(c echo.Context, a *access, detail, text string) error {
	err := p.d.Accounts.RevokeAll(c.Request().Context(), a.u.ID, account.Keep{}, func(_ context.Context, tx *gorm.DB) error {
		return p.d.Audit.RecordTx(tx, p.event(c, eventSignedOutEverywhere, a.u.ID, "", audit.OK, detail))
	})
	if err != nil {
		return err
	}
	p.d.Queue.Wake()
	return p.render(c, http.StatusOK, "security-info-done", map[string]any{
		"Title": i18n.From(c.Request().Context()).T("securityinfo.signedout.title"), "Message": text,
		"Link": p.signInHere(a.u.Username), "LinkText": i18n.From(c.Request().Context()).T("securityinfo.page.signin_again")})
}

// backToApp is the way back to the sign-in that sent the user here (the
// registration prompt, ?register=<flow>): its page, where Continue goes on
// to the app, and the app's name. Only this user's open registration in
// this browser counts; anything else shows no way back.
func (p *securityInfo) backToApp(c echo.Context, a *access) (link, app string) {
	id := cleanAuthRequestID(c.QueryParam("register"))
	if id == "" {
		return "", ""
	}
	f, err := p.proofs.Load(c.Request().Context(), id, web.CookieValue(c.Request(), bindCookie, p.secure), flow.Register, flow.StepRegister)
	if err != nil || f.UserID != a.u.ID || f.AuthRequestID == "" {
		return "", ""
	}
	if an, ok := p.d.SignIn.(AppNamer); ok {
		app = an.AppName(c.Request().Context(), f.AuthRequestID)
	}
	return p.path("/security-info/register/" + f.ID), app
}
