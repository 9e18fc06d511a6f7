package plugin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// eventPasswordChanged is the audit event of a change by a user who knew
// the password (a reset is audit.PasswordReset).
const eventPasswordChanged = "password.changed" // #nosec G101 -- an event name, not a credential

// The change-password page: the current password is the proof, so it
// needs a sign-in but no step-up. The current password is checked as
// sign-in checks it (the same hasher queue, a wrong one counts toward the
// lockout); the new one under the recovery's policy and meter.

func (p *securityInfo) passwordPage(c echo.Context) error {
	a, err := p.guard(c)
	if err != nil {
		return done(err)
	}
	return p.renderChangePassword(c, a, "", "", cleanAuthRequestID(c.QueryParam(fieldAuthRequest)), true)
}

// fieldAuthRequest names the sign-in that sent a user with a temporary
// password here: once the password is changed that sign-in continues to
// its app (the provider holds it for this browser's session until then).
const fieldAuthRequest = "authRequestID"

// fieldSignOutOthers is the change-password box "Sign out of all other
// sessions", checked by default as Entra's is: a password is usually
// changed because it may be known to someone else.
const fieldSignOutOthers = "signout_others"

// renderChangePassword shows the page; when it comes back with an error,
// the sign-out box stays as the user left it.
func (p *securityInfo) renderChangePassword(c echo.Context, a *access, msg, field, authReq string, signOut bool) error {
	if msg == "" {
		field = ""
	}
	return p.render(c, http.StatusOK, "security-info-password", map[string]any{
		"Error": msg, "ErrorField": field, "MinLength": p.d.PasswordPolicy.MinLength,
		"StrengthURL": p.path("/security-info/password/strength"), "SignOutOthers": signOut,
		// Sign-in sent the user here: say why before asking anything.
		"Temporary": a.u.MustChangePassword, "AuthRequestID": authReq,
	})
}

// newPasswordProblem checks a new password as the recovery does: typed
// twice alike, within the policy, not the current one. It returns the
// message and the field to retype ("" when the password is fine).
func (p *Plugin) newPasswordProblem(ctx context.Context, u *user.User, pw, confirm string) (msg, field string, err error) {
	if pw != confirm {
		return i18n.From(ctx).T("securityinfo.password.mismatch"), pwFieldConfirm, nil
	}
	if err := p.d.PasswordPolicy.Check(pw, u.Username, u.Email, u.DisplayName); err != nil {
		var rej *password.Rejection
		if errors.As(err, &rej) {
			return i18n.From(ctx).T("securityinfo.password.refused", "Reason", refusal(i18n.From(ctx), rej)), pwFieldPassword, nil
		}
		return "", "", err
	}
	same, err := p.d.Users.CheckPassword(ctx, u.ID, pw)
	if err != nil {
		return "", "", err
	}
	if same {
		return i18n.From(ctx).T("securityinfo.password.same"), pwFieldPassword, nil
	}
	return "", "", nil
}

func (p *securityInfo) changePassword(c echo.Context) error {
	ctx := c.Request().Context()
	in, err := form(c, fieldCurrentPassword, "password", "confirm", fieldSignOutOthers, fieldAuthRequest)
	if err != nil {
		return err
	}
	a, err := p.guard(c)
	if err != nil {
		return done(err)
	}
	// An unchecked box sends nothing: only the box's own value signs out.
	signOut := in[fieldSignOutOthers] == "on"
	authReq := cleanAuthRequestID(in[fieldAuthRequest])
	again := func(msg, field string) error { return p.renderChangePassword(c, a, msg, field, authReq, signOut) }
	if in[fieldCurrentPassword] == "" {
		return again(i18n.From(ctx).T("securityinfo.password.current_needed"), fieldCurrentPassword)
	}
	ok, msg, err := p.checkPassword(c, a.u, in[fieldCurrentPassword])
	if err != nil {
		return err
	}
	if !ok {
		return again(msg, fieldCurrentPassword)
	}
	msg, field, err := p.newPasswordProblem(ctx, a.u, in["password"], in["confirm"])
	if err != nil || msg != "" {
		if err != nil {
			return err
		}
		return again(msg, field)
	}
	// Hash before the transaction: Argon2id must not hold database locks.
	hash, err := p.d.Users.Hasher().Hash(ctx, in["password"])
	if err != nil {
		return err
	}
	// This browser stays signed in either way: the user just proved the
	// password here. With the box checked every other session and every
	// token issued to the user ends, as a reset does.
	detail := "security info; other sessions kept"
	if signOut {
		detail = "security info; signed out everywhere else"
	}
	// The sign-in this page was sent from survives the sign-out, as the
	// request a recovery continues does: ContinueURL below still insists
	// on this browser and this session.
	keep := account.Keep{Session: a.acct.SessionID, AuthRequest: authReq}
	err = p.d.Accounts.ChangePassword(ctx, a.u.ID, hash, signOut, keep,
		func(ctx context.Context, tx *gorm.DB) error {
			if err := p.d.Audit.RecordTx(tx, p.event(c, eventPasswordChanged, a.u.ID, "", audit.OK, detail)); err != nil {
				return err
			}
			return p.notes.notify(ctx, tx, c, a.u, noticeChanged,
				note{Methods: i18n.From(ctx).T("mail.common.current_password"), SignedOut: signOut})
		})
	if err != nil {
		return err
	}
	p.d.Queue.Wake()
	if authReq != "" {
		if to := p.continueSignIn(c, a.u.ID, authReq); to != "" {
			return see(c, to)
		}
	}
	text := "securityinfo.password.done_kept"
	if signOut {
		text = "securityinfo.password.done_signedout"
	}
	return p.render(c, http.StatusOK, "security-info-done", map[string]any{
		"Title":   i18n.From(ctx).T("securityinfo.password.done_title"),
		"Message": i18n.From(ctx).T(text),
		"Link":    p.path("/security-info"), "LinkText": i18n.From(ctx).T("securityinfo.password.done_back")})
}

// continueSignIn is where the sign-in authReq goes once the temporary
// password it was sent to change is changed: the registration reminder
// sign-in skipped meanwhile, else back to the app. "" when it cannot
// continue here (expired, another browser's, not held for this session):
// the password is changed either way, so the page says so.
func (p *securityInfo) continueSignIn(c echo.Context, userID, authReq string) string {
	ctx := c.Request().Context()
	next, err := p.AfterSignIn(c, userID, authReq)
	if err != nil {
		slog.ErrorContext(ctx, "after password change: sign-in hook", "err", err, "user", userID)
	}
	if next != "" {
		return next
	}
	to, err := p.d.SignIn.ContinueURL(c, authReq)
	if err != nil {
		slog.InfoContext(ctx, "after password change: sign-in not continued", "err", err, "user", userID)
		return ""
	}
	return to
}

// passwordStrength answers the meter of the change-password page, as the
// recovery's does.
func (p *securityInfo) passwordStrength(c echo.Context) error {
	in, err := form(c, "password")
	if err != nil {
		return err
	}
	a, err := p.guard(c)
	if err != nil {
		return done(err)
	}
	return c.JSON(http.StatusOK, p.strengthOf(i18n.From(c.Request().Context()), a.u, in["password"]))
}

// strengthAnswer is what the meter script reads: ok says the policy
// accepts it, so the page can drop an error that no longer applies;
// reason is the rule it breaks, for the live words.
type strengthAnswer struct {
	Score  int    `json:"score"`
	OK     bool   `json:"ok"`
	Reason string `json:"reason,omitempty"`
}

// refusal words the password policy's rejection in the page's language.
func refusal(l *i18n.Localizer, rej *password.Rejection) string {
	if rej.ID == "" {
		return rej.Reason
	}
	return l.T(rej.ID, rej.Data...)
}

func (p *Plugin) strengthOf(l *i18n.Localizer, u *user.User, pw string) strengthAnswer {
	var out strengthAnswer
	var rej *password.Rejection
	switch err := p.d.PasswordPolicy.Check(pw, u.Username, u.Email, u.DisplayName); {
	case err == nil:
		out.OK, out.Score = true, password.Strength(pw, u.Username, u.Email, u.DisplayName)
	case errors.As(err, &rej):
		out.Reason = refusal(l, rej)
	}
	return out
}
