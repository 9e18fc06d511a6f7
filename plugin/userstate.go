package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// What an account has been through, kept in sspr_user_state: whether it
// ever had a method, which session registered its very first one, and
// whether its owner reported it ("This wasn't me"). Each is written by one
// conditional statement, never by saveState, so a concurrent skip or
// reconfirmation cannot undo it.

// ensureState makes sure the user has a state row (so the updates below
// have something to change).
func (p *Plugin) ensureState(tx *gorm.DB, userID string) error {
	s := userState{UserID: userID, UpdatedAt: p.d.Now().UTC()}
	return tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "user_id"}}, DoNothing: true}).Create(&s).Error
}

// markHadMethods records that the account has (had) a method. sessionID
// names the session that registers the account's very first method; it
// is kept only when the account had none before, so only that session
// may go on adding methods without a cool-down.
func (p *Plugin) markHadMethods(tx *gorm.DB, userID, sessionID string) error {
	if err := p.ensureState(tx, userID); err != nil {
		return fmt.Errorf("plugin: had methods: %w", err)
	}
	err := tx.Model(&userState{}).Where("user_id = ? AND had_methods = ?", userID, false).
		Updates(map[string]any{"had_methods": true, "first_session_id": sessionID, "updated_at": p.d.Now().UTC()}).Error
	if err != nil {
		return fmt.Errorf("plugin: had methods: %w", err)
	}
	return nil
}

// grant decides, for a signed-in user on /security-info, whether the
// fresh sign-in alone (with the account's password asked on the page)
// may add methods, and whether those skip the cool-down. The cool-down
// guards an account's older methods against a stolen session planting a
// new way in; it is skipped only for the first registration of an account
// that never had a method, and only in the very session that made it.
func (p *securityInfo) grant(ctx context.Context, a *access) error {
	g := p.d.DB.WithContext(ctx)
	st, err := p.state(g, a.u.ID)
	if err != nil {
		return err
	}
	if len(a.methods) > 0 && !st.HadMethods {
		// Methods from elsewhere (an administrator, an import, an older
		// version): the account has had methods from now on.
		if err := p.markHadMethods(g, a.u.ID, ""); err != nil {
			return err
		}
		st.HadMethods = true
	}
	fresh := p.d.Now().Sub(a.acct.AuthTime) <= StepUpWindow
	firstSession := st.HadMethods && st.FirstSessionID != "" && st.FirstSessionID == a.acct.SessionID &&
		addedSince(a.methods, a.acct.AuthTime)
	switch {
	case !fresh:
	case !st.HadMethods && len(a.methods) == 0, firstSession:
		// First registration (maybe of several methods, as a policy of
		// two asks): nothing older to step up with or to protect. A
		// stolen session cookie must not be enough, so each method asks
		// for the account's password.
		a.ok, a.first, a.askPassword = true, true, true
	case !anyUsable(a.methods, p.d.Now()):
		// Every method was deleted, or those left still cool down:
		// nothing to step up with, so the password stands in, and what
		// is added cools down.
		a.ok, a.askPassword = true, true
	}
	return nil
}

func anyUsable(ms []method.Enrollment, now time.Time) bool {
	for _, e := range ms {
		if e.Usable(now) {
			return true
		}
	}
	return false
}

// Messages of the password asked on the add page.
const ()

// checkPassword verifies the account's password typed on the add page,
// through the directory as a sign-in does: a wrong one counts toward the
// account's lockout, and a locked account is refused without a check.
// msg is what the page says when ok is false; err is for infrastructure.
func (p *securityInfo) checkPassword(c echo.Context, u *user.User, pw string) (ok bool, msg string, err error) {
	if pw == "" {
		return false, i18n.From(c.Request().Context()).T("securityinfo.password.needed"), nil
	}
	got, err := p.d.Users.Authenticate(c.Request().Context(), u.Username, pw)
	var locked *user.LockedError
	switch {
	case err == nil && got.ID == u.ID:
		return true, "", p.record(c, "security-info.password", u.ID, "", audit.OK, "")
	case err == nil, errors.Is(err, user.ErrBadCredentials), errors.Is(err, user.ErrDisabled):
		msg = i18n.From(c.Request().Context()).T("securityinfo.password.wrong")
	case errors.As(err, &locked):
		msg = i18n.From(c.Request().Context()).T("securityinfo.password.locked")
	case errors.Is(err, password.ErrBusy):
		// Nothing was checked or counted: the same words as the sign-in page.
		return false, i18n.From(c.Request().Context()).T("signin.error.busy"), nil
	default:
		return false, "", fmt.Errorf("plugin: password: %w", err)
	}
	return false, msg, p.record(c, "security-info.password", u.ID, "", audit.Fail, msg)
}

// --- An administrator's "register again" ---

// RequireRegisterAgain makes userID register their methods again, inside
// tx (the administrator's change, with its audit row and the sign-out of
// every session): the methods they have are removed, so none of them
// proves anything in a recovery any more, and the account is marked, so
// the next sign-in sends them to register whatever the policy says and
// the registration cannot be skipped. The mark goes once they have enough
// methods again.
func RequireRegisterAgain(ctx context.Context, tx *gorm.DB, users *user.Store, userID string, at time.Time) error {
	if err := users.WithTx(tx).RequireRegisterAgain(ctx, userID, at); err != nil {
		return err
	}
	if err := method.NewStore(tx).DeleteUser(ctx, userID); err != nil {
		return fmt.Errorf("plugin: register again: %w", err)
	}
	return nil
}

// registeredAgain clears the mark of RequireRegisterAgain.
func (p *Plugin) registeredAgain(ctx context.Context, userID string) error {
	s, ok := p.d.Users.(interface {
		RegisteredAgain(ctx context.Context, id string) error
	})
	if !ok {
		return nil
	}
	return s.RegisteredAgain(ctx, userID)
}

// --- "This wasn't me": the reported state ---

// markReported puts the account in the reported state inside tx.
func (p *Plugin) markReported(tx *gorm.DB, userID string, now time.Time) error {
	if err := p.ensureState(tx, userID); err != nil {
		return fmt.Errorf("plugin: report: %w", err)
	}
	err := tx.Model(&userState{}).Where("user_id = ? AND reported_at IS NULL", userID).
		Updates(map[string]any{"reported_at": now, "updated_at": now}).Error
	if err != nil {
		return fmt.Errorf("plugin: report: %w", err)
	}
	return nil
}

// Reported reports whether userID's owner said "This wasn't me" and no
// administrator has cleared it since (zero time when not reported).
func Reported(ctx context.Context, g *gorm.DB, userID string) (bool, time.Time, error) {
	var s userState
	err := g.WithContext(ctx).Where("user_id = ?", userID).Take(&s).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, time.Time{}, nil
	}
	if err != nil {
		return false, time.Time{}, fmt.Errorf("plugin: reported: %w", err)
	}
	if s.ReportedAt == nil {
		return false, time.Time{}, nil
	}
	return true, s.ReportedAt.UTC(), nil
}

// ClearReport ends the reported state of userID (`latchkey user
// clear-report`), so self-service recovery works again; false when there
// was nothing to clear. The caller audits it.
func ClearReport(ctx context.Context, g *gorm.DB, userID string) (bool, error) {
	res := g.WithContext(ctx).Model(&userState{}).Where("user_id = ? AND reported_at IS NOT NULL", userID).
		Updates(map[string]any{"reported_at": nil, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return false, fmt.Errorf("plugin: clear report: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// errReported ends a recovery of a reported account. It is shown only to
// someone who has just proven a method of the account (or who holds a
// flow that had), so it tells a stranger nothing about the account.
var errReported = &web.PageError{Status: http.StatusForbidden, Title: "recover.reported.title",
	Message: "recover.reported.text"}

// refuseReported answers for a real account in the reported state with
// errReported, audited; with tx, the check runs inside the completion's
// transaction.
func (p *Plugin) refuseReported(c echo.Context, tx *gorm.DB, f *flow.Flow) error {
	if f.Decoy || f.UserID == "" {
		return nil
	}
	ctx := c.Request().Context()
	g := tx
	if g == nil {
		g = p.d.DB
	}
	rep, _, err := Reported(ctx, g, f.UserID)
	if err != nil || !rep {
		return err
	}
	if tx != nil {
		// The completion's transaction rolls back with this answer, so an
		// audit row written in it would vanish; the steps before it audit.
		return errReported
	}
	if err := p.record(c, "recovery.refused", f.UserID, f.ID, audit.Blocked, "account reported"); err != nil {
		return err
	}
	return errReported
}

// refuseReportedProven is refuseReported for the steps after a proof
// (method choice for a second proof, password, strength, unlock): before
// any proof a reported account's flow looks like every other.
func (p *Plugin) refuseReportedProven(c echo.Context, f *flow.Flow) error {
	if len(f.Proofs) == 0 {
		return nil
	}
	return p.refuseReported(c, nil, f)
}

// recipientOf says in the audit which address a report link went to: the
// account's address, or the email method (by id and masked address).
func recipientOf(r recipient) string {
	if r.enrollmentID == "" {
		return "account " + method.MaskEmail(r.addr)
	}
	return "method " + r.enrollmentID + " " + method.MaskEmail(r.addr)
}

// fieldCurrentPassword is the add page's field for the account's password.
const fieldCurrentPassword = "current_password"
