package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/plugin/useradmin"
	"github.com/latchkeyid/latchkey/provider/session"
	"github.com/latchkeyid/latchkey/provider/user"
	lkmail "github.com/latchkeyid/latchkey/ui/mail"
)

// userOps is the user operations the admin API runs too, on the
// command's stores. With mail, setup links can be emailed: the command
// queues the message, the running server sends it.
func (a *app) userOps(mail bool) (*useradmin.Ops, error) {
	svc, users, err := a.accounts()
	if err != nil {
		return nil, err
	}
	g, err := a.database()
	if err != nil {
		return nil, err
	}
	ops := &useradmin.Ops{DB: g, Users: users, Accounts: svc, Policy: a.policy(), Issuer: a.cfg.Issuer}
	if !mail {
		return ops, nil
	}
	if a.cfg.SMTPURL == "" && !a.cfg.Dev {
		return nil, usageError{errors.New("--send-email needs LATCHKEY_SMTP_URL: the server sends the mail")}
	}
	k, err := a.keyring()
	if err != nil {
		return nil, err
	}
	if ops.Mail, err = lkmail.New(a.cfg.Issuer, lkmail.WithBrand(a.cfg.Brand().ProductName())); err != nil {
		return nil, err
	}
	ops.Queue = sender.NewQueue(g, k, []sender.Sender{serverSends(sender.Email)})
	return ops, nil
}

// printLink tells where an issued setup link went.
func (a *app) printLink(u *user.User, l *useradmin.Link) {
	if l.Emailed {
		fmt.Fprintf(a.stdout, "setup link (one use, until %s) queued for %s; the server mails it\n",
			l.Expires.UTC().Format(time.RFC3339), u.Email)
		return
	}
	fmt.Fprintf(a.stdout, "setup link (one use, until %s): %s\n", l.Expires.UTC().Format(time.RFC3339), l.URL)
}

// setupLink removes the user's password, revokes everything, and prints
// (or emails) a one-time link to set a new one.
func (c *userResetCmd) setupLink(a *app, u *user.User) error {
	if a.cfg.Secret == "" && !a.cfg.Dev {
		return usageError{errors.New("--setup-link needs LATCHKEY_SECRET: links are stored as keyed hashes")}
	}
	ops, err := a.userOps(c.SendEmail)
	if err != nil {
		return err
	}
	l, err := ops.ResetToSetupLink(a.ctx, u, c.LinkTTL, c.SendEmail,
		a.auditTx("admin.password.reset", u.ID, fmt.Sprintf("setup_link=true emailed=%v", c.SendEmail)))
	if errors.Is(err, useradmin.ErrDisabled) {
		// The setup page refuses disabled accounts: the link would not work.
		return usageError{fmt.Errorf("%s is disabled; run user enable first", u.Username)}
	}
	if err != nil {
		return userErr("reset password", c.User, err)
	}
	fmt.Fprintf(a.stdout, "password of %s removed; sessions, tokens and recovery flows revoked\n", u.Username)
	a.printLink(u, l)
	return nil
}

type userSearchCmd struct {
	Query  string `arg:"" optional:"" help:"Start of a username, email address or name (case and width folded); empty lists everyone."`
	Limit  int    `default:"50" help:"Users per page (max 500)."`
	Cursor string `help:"Continue after the page that printed this cursor."`
}

func (c *userSearchCmd) Run(a *app) error {
	if c.Limit < 1 || c.Limit > user.MaxSearchLimit {
		return usageError{fmt.Errorf("--limit must be between 1 and %d", user.MaxSearchLimit)}
	}
	users, err := a.users()
	if err != nil {
		return err
	}
	p, err := users.Search(a.ctx, c.Query, c.Limit, c.Cursor)
	switch {
	case errors.Is(err, user.ErrBadCursor):
		return usageError{errors.New("--cursor is not one this search printed")}
	case errors.Is(err, user.ErrInvalid):
		return usageError{err}
	case err != nil:
		return err
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "USERNAME\tEMAIL\tNAME\tSTATUS\tID")
	now := time.Now().UTC()
	for _, u := range p.Users {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", u.Username, u.Email, dash(u.DisplayName), status(&u, now), u.ID)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if p.Next != "" {
		fmt.Fprintf(a.stdout, "next page: --cursor %s\n", p.Next)
	}
	return nil
}

type userUpdateCmd struct {
	User  string  `arg:"" help:"Username, email address or user ID."`
	Name  *string `help:"New display name."`
	Email *string `help:"New email address."`
	Phone *string `help:"New phone number (E.164); empty removes it."`
}

func (c *userUpdateCmd) Run(a *app) error {
	if c.Name == nil && c.Email == nil && c.Phone == nil {
		return usageError{errors.New("nothing to change: give --name, --email or --phone")}
	}
	users, u, err := a.findUser(c.User)
	if err != nil {
		return err
	}
	if err := users.UpdateProfile(a.ctx, u.ID, user.Profile{DisplayName: c.Name, Email: c.Email, Phone: c.Phone}); err != nil {
		return userErr("update", c.User, err)
	}
	var changed []string
	for _, f := range []struct {
		name string
		v    *string
	}{{"name", c.Name}, {"email", c.Email}, {"phone", c.Phone}} {
		if f.v != nil {
			changed = append(changed, f.name)
		}
	}
	a.audit("admin.user.update", u.ID, "ok", "changed="+strings.Join(changed, ","))
	fmt.Fprintf(a.stdout, "updated %s\n", u.Username)
	return nil
}

type userAdminCmd struct {
	User   string `arg:"" help:"Username, email address or user ID."`
	Grant  bool   `xor:"admin" required:"" help:"Make the user an administrator."`
	Revoke bool   `xor:"admin" required:"" help:"Remove the administrator flag (refused for the last enabled administrator)."`
}

func (c *userAdminCmd) Run(a *app) error {
	users, u, err := a.findUser(c.User)
	if err != nil {
		return err
	}
	// The command line acts as no particular administrator, so only the
	// last-administrator rule applies.
	if err := users.SetAdminGuarded(a.ctx, "", u.ID, c.Grant); err != nil {
		a.audit("admin.user.admin", u.ID, "fail", fmt.Sprintf("admin=%v", c.Grant))
		return userErr("admin", c.User, err)
	}
	a.audit("admin.user.admin", u.ID, "ok", fmt.Sprintf("admin=%v", c.Grant))
	if c.Grant {
		fmt.Fprintf(a.stdout, "%s is an administrator\n", u.Username)
	} else {
		fmt.Fprintf(a.stdout, "%s is no longer an administrator\n", u.Username)
	}
	return nil
}

type userSessionsCmd struct {
	User string `arg:"" help:"Username, email address or user ID."`
}

func (c *userSessionsCmd) Run(a *app) error {
	u, g, err := a.userAndDatabase(c.User)
	if err != nil {
		return err
	}
	list, err := session.NewStore(g).ListUser(a.ctx, u.ID)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintf(a.stdout, "%s has no signed-in sessions\n", u.Username)
		return nil
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SESSION\tSIGNED IN\tMETHODS\tLAST SEEN\tEXPIRES")
	for _, s := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", s.ID, stamp(s.AuthTime), strings.Join(s.AMR, ","), stamp(s.LastSeenAt), stamp(s.ExpiresAt))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "end them all with: latchkey user sign-out %s\n", u.Username)
	return nil
}
