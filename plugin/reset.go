package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

func (p *recovery) passwordPage(c echo.Context) error {
	f, err := p.flowAt(c, flow.StepPassword)
	if err != nil {
		return err
	}
	return p.renderPassword(c, f, "")
}

// The password fields an error is about: the new password (a rule it
// breaks) or the confirmation (a mismatch). Both fields are empty after
// an error (a password is never sent back in a page), so the message says
// exactly what failed and the focus goes to the field to retype.
const (
	pwFieldPassword = "password"
	pwFieldConfirm  = "confirm"
)

func (p *recovery) renderPassword(c echo.Context, f *flow.Flow, msg string) error {
	return p.renderPasswordFor(c, f, msg, pwFieldPassword)
}

func (p *recovery) renderPasswordFor(c echo.Context, f *flow.Flow, msg, field string) error {
	return p.renderPasswordStatus(c, f, http.StatusOK, msg, field)
}

// renderPasswordBusy answers a reset the hasher cannot take now (every
// slot and queue place taken) with 503 and the form again: the proven
// flow stays, so the person only presses the button once more.
func (p *recovery) renderPasswordBusy(c echo.Context, f *flow.Flow) error {
	c.Response().Header().Set("Retry-After", "1")
	return p.renderPasswordStatus(c, f, http.StatusServiceUnavailable, tr(c, "recover.password.error.busy"), pwFieldPassword)
}

func (p *recovery) renderPasswordStatus(c echo.Context, f *flow.Flow, status int, msg, field string) error {
	if msg == "" {
		field = ""
	}
	return p.render(c, status, "recover-password", map[string]any{
		"Step": stepView{N: recoverySteps(len(f.Proofs), f.Intent), M: recoverySteps(len(f.Proofs), f.Intent)},
		"Flow": f.ID, "Error": msg, "ErrorField": field, "MinLength": p.d.PasswordPolicy.MinLength,
		"Action": p.path("/recover/" + f.ID + "/password"), "StrengthURL": p.path("/recover/" + f.ID + "/strength"),
	})
}

// setPassword is the reset: policy-checked, then one transaction.
func (p *recovery) setPassword(c echo.Context) error {
	ctx := c.Request().Context()
	in, err := form(c, "password", "confirm")
	if err != nil {
		return err
	}
	f, err := p.flowAt(c, flow.StepPassword)
	if err != nil {
		return err
	}
	u, _, err := p.subjectOf(ctx, f)
	if err != nil {
		return err
	}
	if u == nil || u.Disabled {
		return flowErr(flow.ErrOutOfOrder)
	}
	pw := in["password"]
	if pw != in["confirm"] {
		return p.renderPasswordFor(c, f, tr(c, "recover.password.error.mismatch"), pwFieldConfirm)
	}
	if err := p.d.PasswordPolicy.Check(pw, u.Username, u.Email, u.DisplayName); err != nil {
		var rej *password.Rejection
		if errors.As(err, &rej) {
			return p.renderPassword(c, f, tr(c, "recover.password.error.rule", "Reason", refusal(i18n.From(c.Request().Context()), rej)))
		}
		return err
	}
	same, err := p.d.Users.CheckPassword(ctx, u.ID, pw)
	if errors.Is(err, password.ErrBusy) {
		return p.renderPasswordBusy(c, f)
	}
	if err != nil {
		return err
	}
	if same {
		return p.renderPassword(c, f, tr(c, "recover.password.error.current"))
	}
	// Hash before the transaction: Argon2id takes tens of milliseconds and
	// must not hold database locks.
	hash, err := p.d.Users.Hasher().Hash(ctx, pw)
	if errors.Is(err, password.ErrBusy) {
		return p.renderPasswordBusy(c, f)
	}
	if err != nil {
		return err
	}
	err = p.d.Accounts.ResetPassword(ctx, u.ID, hash, keepFlow(f), func(ctx context.Context, tx *gorm.DB) error {
		return p.applyReset(c, tx, f, u)
	})
	if err != nil {
		return flowErr(err)
	}
	p.d.Queue.Wake()
	// Proven and finished: only now is the account known to be this
	// person's, so only now is their language remembered.
	p.rememberLocale(c, u)
	pol, err := p.d.Policy.Get(ctx)
	if err != nil {
		return err
	}
	if err := p.refuseReportedProven(c, f); err != nil {
		return err // reported while the reset ran: no new session
	}
	if f.AuthRequestID == "" || pol.RequireSignInAfterReset {
		return see(c, p.path("/recover/"+f.ID+"/done"))
	}
	to, err := p.d.SignIn.Complete(c, u.ID, p.amr(f.Proofs), f.AuthRequestID)
	if err != nil {
		return fmt.Errorf("plugin: complete: %w", err)
	}
	if to == "" {
		return see(c, p.path("/recover/"+f.ID+"/done"))
	}
	// The browser is signed in and the request completed: the done page
	// confirms the change and continues to the app from the flow's own
	// record, so no address travels in the URL.
	d, err := p.openFlowData(f.Data)
	if err != nil {
		return see(c, to)
	}
	d.Continue, d.App = to, p.appName(ctx, f.AuthRequestID)
	f.Data = p.sealFlowData(d)
	if err := p.flows.Save(ctx, nil, f); err != nil {
		return see(c, to)
	}
	return see(c, p.path("/recover/"+f.ID+"/done"))
}

// appName is the name of the application a request comes from, "" when
// the provider cannot tell.
func (p *Plugin) appName(ctx context.Context, authReq string) string {
	if an, ok := p.d.SignIn.(AppNamer); ok && authReq != "" {
		return an.AppName(ctx, authReq)
	}
	return ""
}

// applyReset is the plugin's part of a reset, run inside the provider's
// transaction that also sets the password, clears the lockout and revokes
// everything issued before (checklist E35): a failure in any step leaves
// the old password valid and nothing revoked. Finishing the flow first (a
// conditional update) makes the step succeed once per flow even under
// concurrent submissions.
func (p *recovery) applyReset(c echo.Context, tx *gorm.DB, f *flow.Flow, u *user.User) error {
	return p.finishInTx(c, tx, f, u, audit.PasswordReset, noticeReset)
}

// finishInTx is the plugin's part of a reset or an unlock, in the
// provider's transaction: refused for a reported account, the flow
// finished (once), the failure counters cleared, the event audited and
// the user told.
func (p *recovery) finishInTx(c echo.Context, tx *gorm.DB, f *flow.Flow, u *user.User, event string, kind notice) error {
	ctx := c.Request().Context()
	if err := p.refuseReported(c, tx, f); err != nil {
		return err
	}
	if err := f.Finish(p.flows.Now()); err != nil {
		return err
	}
	if err := p.flows.Save(ctx, tx, f); err != nil {
		return err
	}
	if err := p.failures.Clear(ctx, tx, u.ID); err != nil {
		return err
	}
	if err := p.d.Audit.RecordTx(tx, p.event(c, event, u.ID, f.ID, audit.OK, "sspr "+joinMethods(f))); err != nil {
		return err
	}
	return p.notes.notify(ctx, tx, c, u, kind, note{Verified: f.Methods()})
}

// unlock applies an unlock: the lockout ends, the password stays, and
// what was issued before is revoked, in the provider's transaction. An
// admin-disabled account is never unlocked or re-enabled here.
func (p *recovery) unlock(c echo.Context, f *flow.Flow, u *user.User) error {
	ctx := c.Request().Context()
	if u.Disabled {
		return flowErr(flow.ErrOutOfOrder)
	}
	if err := p.refuseReportedProven(c, f); err != nil {
		return err
	}
	err := p.d.Accounts.Unlock(ctx, u.ID, keepFlow(f), func(_ context.Context, tx *gorm.DB) error {
		return p.finishInTx(c, tx, f, u, audit.Unlock, noticeUnlock)
	})
	if err != nil {
		return flowErr(err)
	}
	p.d.Queue.Wake()
	p.rememberLocale(c, u)
	return see(c, p.path("/recover/"+f.ID+"/done"))
}

func joinMethods(f *flow.Flow) string {
	s := ""
	for i, m := range f.Methods() {
		if i > 0 {
			s += "+"
		}
		s += m
	}
	return s
}

func (p *recovery) donePage(c echo.Context) error {
	ctx := c.Request().Context()
	f, err := p.load(c, flow.Recover)
	if err != nil {
		return err
	}
	if err := f.Allow(flow.StepFinished, p.flows.Now()); err != nil {
		return flowErr(err)
	}
	u, _, d, err := p.subject(ctx, f)
	if err != nil {
		return err
	}
	if u == nil {
		return flowErr(flow.ErrOutOfOrder)
	}
	pol, err := p.d.Policy.Get(ctx)
	if err != nil {
		return err
	}
	app := d.App
	if app == "" {
		app = p.appName(ctx, f.AuthRequestID)
	}
	return p.render(c, http.StatusOK, "recover-done", map[string]any{
		"Unlock": f.Intent == flow.Unlock, "SignIn": p.d.SignIn.LoginURL(f.AuthRequestID, u.Username),
		"Pending": f.AuthRequestID != "", "Continue": d.Continue, "App": app,
		"SignInFirst": pol.RequireSignInAfterReset,
	})
}

// strength scores a candidate password 0..4 for the page's meter with the
// same library and context words as the check (zxcvbn through
// password.Strength). It needs a proven reset flow, so it is no oracle for
// strangers; the password is neither stored nor logged.
func (p *recovery) strength(c echo.Context) error {
	in, err := form(c, "password")
	if err != nil {
		return err
	}
	f, err := p.flowAt(c, flow.StepPassword)
	if err != nil {
		return err
	}
	u, _, err := p.subjectOf(c.Request().Context(), f)
	if err != nil || u == nil {
		return flowErr(flow.ErrOutOfOrder)
	}
	// ok says the policy accepts it, so the page can drop an error that no
	// longer applies; reason is the rule it breaks, for the live words.
	out := struct {
		Score  int    `json:"score"`
		OK     bool   `json:"ok"`
		Reason string `json:"reason,omitempty"`
	}{}
	var rej *password.Rejection
	switch err := p.d.PasswordPolicy.Check(in["password"], u.Username, u.Email, u.DisplayName); {
	case err == nil:
		out.OK, out.Score = true, password.Strength(in["password"], u.Username, u.Email, u.DisplayName)
	case errors.As(err, &rej):
		out.Reason = refusal(i18n.From(c.Request().Context()), rej)
	}
	return c.JSON(http.StatusOK, out)
}
