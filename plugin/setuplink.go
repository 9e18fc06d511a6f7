package plugin

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// SetupPath is the page a setup link opens (?token=...).
const SetupPath = "/security-info/setup"

// eventPasswordSet is the audit event of a password chosen through an
// administrator's setup link.
const eventPasswordSet = "password.set" // #nosec G101 -- an event name, not a credential

// setupLinks is the optional part of Directory behind setup links
// (provider/user.Store has it): look a token up without using it, and use
// it up inside the transaction that stores the password.
type setupLinks interface {
	SetupLinkUser(ctx context.Context, token string) (string, error)
	RedeemSetupLinkTx(ctx context.Context, tx *gorm.DB, token string) (string, error)
}

// The setup page: the link an administrator sent (latchkey user
// reset-password --setup-link) opens a form to choose a password. Opening
// it uses nothing up, so a mail scanner that follows the link does not
// burn it; submitting a password the policy accepts uses the link and
// stores the password in one transaction, then the user signs in with it.

func (p *securityInfo) setupPage(c echo.Context) error {
	tok := c.QueryParam("token")
	u, err := p.setupUser(c.Request().Context(), tok)
	if err != nil || u == nil {
		return p.setupGone(c, err)
	}
	return p.renderSetup(c, u, tok, "", "")
}

func (p *securityInfo) setupPassword(c echo.Context) error {
	ctx := c.Request().Context()
	in, err := form(c, "token", "password", "confirm")
	if err != nil {
		return err
	}
	u, err := p.setupUser(ctx, in["token"])
	if err != nil || u == nil {
		return p.setupGone(c, err)
	}
	msg, field, err := p.newPasswordProblem(ctx, u, in["password"], in["confirm"])
	if err != nil {
		return err
	}
	if msg != "" {
		return p.renderSetup(c, u, in["token"], msg, field)
	}
	// Hash before the transaction: Argon2id must not hold database locks.
	hash, err := p.d.Users.Hasher().Hash(ctx, in["password"])
	if err != nil {
		return err
	}
	links := p.d.Users.(setupLinks) // setupUser checked
	err = p.d.Accounts.ResetPassword(ctx, u.ID, hash, account.Keep{}, func(ctx context.Context, tx *gorm.DB) error {
		id, err := links.RedeemSetupLinkTx(ctx, tx, in["token"])
		if err != nil {
			return err
		}
		if id != u.ID {
			return user.ErrSetupLink
		}
		return p.d.Audit.RecordTx(tx, p.event(c, eventPasswordSet, u.ID, "", audit.OK, "setup link"))
	})
	if errors.Is(err, user.ErrSetupLink) {
		// Used by a parallel submit, or replaced, since the form was read.
		return p.setupGone(c, nil)
	}
	if err != nil {
		return err
	}
	l := i18n.From(ctx)
	return p.render(c, http.StatusOK, "security-info-done", map[string]any{
		"Title": l.T("securityinfo.setup.done_title"), "Message": l.T("securityinfo.setup.done_text"),
		"Link": p.signInHere(u.Username), "LinkText": l.T("securityinfo.page.signin")})
}

// setupUser is the enabled user a usable token belongs to; nil when the
// token is unknown, used, expired or replaced (every case answers alike).
func (p *securityInfo) setupUser(ctx context.Context, tok string) (*user.User, error) {
	links, ok := p.d.Users.(setupLinks)
	if !ok || tok == "" {
		return nil, nil
	}
	id, err := links.SetupLinkUser(ctx, tok)
	if errors.Is(err, user.ErrSetupLink) || errors.Is(err, user.ErrNoKeyring) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u, err := p.d.Users.ByID(ctx, id)
	if errors.Is(err, user.ErrNotFound) || err == nil && u.Disabled {
		return nil, nil
	}
	return u, err
}

func (p *securityInfo) renderSetup(c echo.Context, u *user.User, tok, msg, field string) error {
	return p.render(c, http.StatusOK, "security-info-setup", map[string]any{
		"Token": tok, "Username": u.Username, "MinLength": p.d.PasswordPolicy.MinLength,
		"Error": msg, "ErrorField": field,
	})
}

// setupGone answers a link that does not work (any more); err is an
// infrastructure failure, shown as the usual error page.
func (p *securityInfo) setupGone(c echo.Context, err error) error {
	if err != nil {
		return err
	}
	l := i18n.From(c.Request().Context())
	return p.render(c, http.StatusGone, "security-info-done", map[string]any{
		"Title": l.T("securityinfo.setup.invalid_title"), "Message": l.T("securityinfo.setup.invalid_text")})
}
