package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/plugin/useradmin"
	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/user"
)

type userCmd struct {
	Create        userCreateCmd      `cmd:"" help:"Create a user; the password is read from stdin."`
	List          userListCmd        `cmd:"" help:"List users."`
	Show          userShowCmd        `cmd:"" help:"Show one user."`
	Lock          userLockCmd        `cmd:"" help:"Lock a user's password sign-in."`
	Unlock        userUnlockCmd      `cmd:"" help:"Clear a lockout and the failed-password count."`
	Disable       userDisableCmd     `cmd:"" help:"Disable a user: no sign-in, no self-service reset, sessions, tokens and recovery flows revoked."`
	Enable        userEnableCmd      `cmd:"" help:"Re-enable a disabled user."`
	Delete        userDeleteCmd      `cmd:"" help:"Delete a user and their sessions."`
	ResetPassword userResetCmd       `cmd:"" name:"reset-password" help:"Set a user's password (read from stdin); revokes their sessions, tokens and recovery flows."`
	SignOut       userSignOutCmd     `cmd:"" name:"sign-out" help:"Sign a user out everywhere: sessions, tokens, codes and recovery flows revoked."`
	Groups        userGroupsCmd      `cmd:"" help:"Show or change a user's groups."`
	ClearReport   userClearReportCmd `cmd:"" name:"clear-report" help:"Clear a \"This wasn't me\" report, so self-service recovery works again."`
	Search        userSearchCmd      `cmd:"" help:"Find users whose username, email address or name starts with QUERY, a page at a time."`
	Update        userUpdateCmd      `cmd:"" help:"Change a user's name, email address or phone number (the claims their tokens carry)."`
	Admin         userAdminCmd       `cmd:"" help:"Grant or remove the administrator flag (the last administrator keeps theirs)."`
	Sessions      userSessionsCmd    `cmd:"" help:"List a user's signed-in browser sessions (sign-out ends them all)."`
}

type userCreateCmd struct {
	Username          string        `required:"" help:"Username (compared case-insensitively)."`
	Email             string        `required:"" help:"Email address (compared case-insensitively)."`
	Name              string        `help:"Display name."`
	Phone             string        `help:"Phone number (informational; phone methods are registered separately)."`
	Group             []string      `help:"Group (repeatable)."`
	Admin             bool          `help:"Make the user an administrator."`
	PasswordStdin     bool          `name:"password-stdin" xor:"pw" required:"" help:"Read the password from the first line of stdin."`
	PasswordHashStdin bool          `name:"password-hash-stdin" xor:"pw" required:"" help:"Import an existing argon2id or bcrypt hash from stdin (bcrypt is upgraded at the first sign-in)."`
	SetupLink         bool          `name:"setup-link" xor:"pw" required:"" help:"Create the user without a password and print a one-time link with which they choose one."`
	LinkTTL           time.Duration `name:"link-ttl" default:"72h" help:"How long the setup link works."`
	SendEmail         bool          `name:"send-email" help:"With --setup-link: email the link to the user (in their language; the server sends it) instead of printing it."`
	Locale            string        `help:"The user's language (BCP 47, e.g. de), for the setup-link mail until they use the pages."`
	Temporary         bool          `help:"With --password-stdin: the user must change the password at the first sign-in."`
}

func (c *userCreateCmd) Run(a *app) error {
	if c.Temporary && !c.PasswordStdin {
		return usageError{errors.New("--temporary goes with --password-stdin")}
	}
	if c.SendEmail && !c.SetupLink {
		return usageError{errors.New("--send-email goes with --setup-link")}
	}
	if c.SetupLink && c.cfgNoSecret(a) {
		return usageError{errors.New("--setup-link needs LATCHKEY_SECRET: links are stored as keyed hashes")}
	}
	n := useradmin.NewUser{NewUser: user.NewUser{
		Username: c.Username, Email: c.Email, DisplayName: c.Name, Phone: c.Phone, Locale: c.Locale,
		Groups: c.Group, Admin: c.Admin,
	}, Temporary: c.Temporary, SetupLink: c.SetupLink, SendEmail: c.SendEmail, LinkTTL: c.LinkTTL}
	var err error
	switch {
	case c.PasswordStdin:
		if n.Password, err = a.readSecret("password"); err != nil {
			return err
		}
	case c.PasswordHashStdin:
		if n.PasswordHash, err = a.readSecret("password hash"); err != nil {
			return err
		}
	}
	ops, err := a.userOps(c.SendEmail)
	if err != nil {
		return err
	}
	u, link, err := ops.Create(a.ctx, n)
	if err != nil {
		return userErr("create", c.Username, err)
	}
	a.audit("admin.user.create", u.ID, "ok", "username="+u.Username)
	fmt.Fprintf(a.stdout, "created user %s (id %s)\n", u.Username, u.ID)
	if link != nil {
		a.printLink(u, link)
	}
	return nil
}

func (c *userCreateCmd) cfgNoSecret(a *app) bool { return a.cfg.Secret == "" && !a.cfg.Dev }

type userListCmd struct{}

func (c *userListCmd) Run(a *app) error {
	users, err := a.users()
	if err != nil {
		return err
	}
	list, err := users.List(a.ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "USERNAME\tEMAIL\tNAME\tSTATUS\tGROUPS")
	now := time.Now().UTC()
	for _, u := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", u.Username, u.Email, u.DisplayName, status(&u, now), strings.Join(u.Groups, ","))
	}
	return w.Flush()
}

type userShowCmd struct {
	User string `arg:"" help:"Username, email address or user ID."`
}

func (c *userShowCmd) Run(a *app) error {
	users, u, err := a.findUser(c.User)
	if err != nil {
		return err
	}
	_ = users
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(w, "%s:\t%s\n", k, v) }
	row("id", u.ID)
	row("username", u.Username)
	row("email", u.Email)
	row("name", u.DisplayName)
	row("phone", u.Phone)
	row("groups", strings.Join(u.Groups, ", "))
	row("admin", fmt.Sprint(u.Admin))
	row("status", status(u, time.Now().UTC()))
	row("failed sign-ins", fmt.Sprint(u.FailedLogins))
	row("lockouts", fmt.Sprint(u.Lockouts))
	row("password changed", stamp(u.PasswordChangedAt))
	if cut := u.SignInCutoff(); !cut.Equal(u.PasswordChangedAt) {
		// The password changed since, with the other sessions kept.
		row("signed out everywhere", stamp(cut))
	}
	language := u.Locale
	if language == "" {
		language = "not yet known (mail without a request is in English)"
	}
	row("language", language)
	switch {
	case u.PasswordHash == "":
		row("password", "none (a setup link or a recovery sets one)")
	case u.MustChangePassword:
		row("password", "temporary: must be changed at the next sign-in")
	}
	if g, err := a.database(); err == nil {
		if rep, at, err := plugin.Reported(a.ctx, g, u.ID); err == nil && rep {
			row("reported", stamp(at)+" (\"This wasn't me\"; self-service recovery refused until clear-report)")
		}
	}
	row("created", stamp(u.CreatedAt))
	return w.Flush()
}

type userLockCmd struct {
	User string        `arg:"" help:"Username, email address or user ID."`
	For  time.Duration `default:"8760h" help:"How long to lock (default one year; unlock ends it early)."`
}

// Run locks as the admin API does: the lock, the revocation of sessions,
// tokens and recovery flows, and the audit record in one transaction.
func (c *userLockCmd) Run(a *app) error {
	if c.For <= 0 {
		return usageError{errors.New("--for must be positive")}
	}
	svc, _, u, err := a.accountOf(c.User)
	if err != nil {
		return err
	}
	until := time.Now().UTC().Add(c.For)
	if err := svc.Lock(a.ctx, u.ID, until, a.auditTx("admin.user.lock", u.ID, "until="+until.Format(time.RFC3339))); err != nil {
		return userErr("lock", c.User, err)
	}
	fmt.Fprintf(a.stdout, "locked %s until %s; sessions, tokens and recovery flows revoked\n", u.Username, until.Format(time.RFC3339))
	return nil
}

type userUnlockCmd struct {
	User string `arg:"" help:"Username, email address or user ID."`
}

func (c *userUnlockCmd) Run(a *app) error {
	_, u, err := a.findUser(c.User)
	if err != nil {
		return err
	}
	ops, err := a.userOps(false)
	if err != nil {
		return err
	}
	if err := ops.Unlock(a.ctx, u.ID, a.auditTx("admin.user.unlock", u.ID, "")); err != nil {
		return userErr("unlock", c.User, err)
	}
	fmt.Fprintf(a.stdout, "unlocked %s\n", u.Username)
	return nil
}

type userDisableCmd struct {
	User string `arg:"" help:"Username, email address or user ID."`
}

func (c *userDisableCmd) Run(a *app) error {
	svc, users, u, err := a.accountOf(c.User)
	if err != nil {
		return err
	}
	if err := svc.Disable(a.ctx, u.ID, useradmin.GuardLastAdmin(users, u.ID, a.auditTx("admin.user.disable", u.ID, ""))); err != nil {
		return userErr("disable", c.User, err)
	}
	fmt.Fprintf(a.stdout, "disabled %s; sessions, tokens and recovery flows revoked\n", u.Username)
	return nil
}

type userEnableCmd struct {
	User string `arg:"" help:"Username, email address or user ID."`
}

func (c *userEnableCmd) Run(a *app) error {
	users, u, err := a.findUser(c.User)
	if err != nil {
		return err
	}
	if err := users.SetDisabled(a.ctx, u.ID, false); err != nil {
		return userErr("enable", c.User, err)
	}
	a.audit("admin.user.enable", u.ID, "ok", "")
	fmt.Fprintf(a.stdout, "enabled %s\n", u.Username)
	return nil
}

type userDeleteCmd struct {
	User string `arg:"" help:"Username, email address or user ID."`
}

func (c *userDeleteCmd) Run(a *app) error {
	svc, users, u, err := a.accountOf(c.User)
	if err != nil {
		return err
	}
	// One transaction: a deleted user's refresh tokens, codes and flows
	// must not outlive them.
	if err := svc.Delete(a.ctx, u.ID, useradmin.GuardLastAdmin(users, u.ID, a.auditTx("admin.user.delete", u.ID, "username="+u.Username))); err != nil {
		return userErr("delete", c.User, err)
	}
	fmt.Fprintf(a.stdout, "deleted %s\n", u.Username)
	return nil
}

type userResetCmd struct {
	User          string        `arg:"" help:"Username, email address or user ID."`
	PasswordStdin bool          `name:"password-stdin" xor:"how" help:"Read the new password from the first line of stdin."`
	Temporary     bool          `help:"The password is temporary: the user must change it at the next sign-in. Without --password-stdin one is generated and printed once."`
	SetupLink     bool          `name:"setup-link" xor:"how" help:"Remove the password and print a one-time link with which the user sets a new one."`
	SendEmail     bool          `name:"send-email" help:"With --setup-link: email the link to the user (in their language; the server sends it) instead of printing it."`
	LinkTTL       time.Duration `name:"link-ttl" default:"72h" help:"How long the setup link works."`
}

func (c *userResetCmd) Run(a *app) error {
	if !c.PasswordStdin && !c.Temporary && !c.SetupLink {
		return usageError{errors.New("say how: --password-stdin, --temporary or --setup-link")}
	}
	if c.SetupLink && c.Temporary {
		return usageError{errors.New("--setup-link and --temporary do not go together")}
	}
	_, u, err := a.findUser(c.User)
	if err != nil {
		return err
	}
	if c.SendEmail && !c.SetupLink {
		return usageError{errors.New("--send-email goes with --setup-link")}
	}
	if c.SetupLink {
		return c.setupLink(a, u)
	}
	pw := ""
	if c.PasswordStdin {
		if pw, err = a.readSecret("password"); err != nil {
			return err
		}
	}
	if c.Temporary {
		return c.temporary(a, u, pw)
	}
	if err := a.policy().Check(pw, u.Username, u.Email, u.DisplayName); err != nil {
		return usageError{fmt.Errorf("password refused: %w", err)}
	}
	svc, users, err := a.accounts()
	if err != nil {
		return err
	}
	// Hash before the transaction: Argon2id must not hold database locks.
	hash, err := users.Hasher().Hash(a.ctx, pw)
	if err != nil {
		return userErr("reset password", c.User, err)
	}
	// The password, the lockout, the audit row and the revocation of
	// everything issued before (sessions, tokens, codes, open recovery
	// flows and challenges) commit together or not at all.
	if err := svc.ResetPassword(a.ctx, u.ID, hash, account.Keep{}, a.auditTx("admin.password.reset", u.ID, "")); err != nil {
		return userErr("reset password", c.User, err)
	}
	fmt.Fprintf(a.stdout, "password of %s changed; lockout cleared; sessions, tokens and recovery flows revoked\n", u.Username)
	return nil
}

// temporary sets pw, or a generated password, that u must change at the
// next sign-in; a generated one is printed once.
func (c *userResetCmd) temporary(a *app, u *user.User, pw string) error {
	ops, err := a.userOps(false)
	if err != nil {
		return err
	}
	generated, err := ops.ResetToTemporary(a.ctx, u, pw, a.auditTx("admin.password.reset", u.ID, "temporary=true"))
	if err != nil {
		return userErr("reset password", c.User, err)
	}
	fmt.Fprintf(a.stdout, "password of %s changed; lockout cleared; sessions, tokens and recovery flows revoked\n", u.Username)
	fmt.Fprintf(a.stdout, "%s must change it at the next sign-in\n", u.Username)
	if generated != "" {
		// Printed once, to stdout only, for the administrator to hand over.
		fmt.Fprintf(a.stdout, "temporary password: %s\n", generated)
	}
	return nil
}

type userSignOutCmd struct {
	User string `arg:"" help:"Username, email address or user ID."`
}

// Run signs the user out everywhere: what a password reset revokes,
// without changing the password (a stolen laptop, a suspicious session).
func (c *userSignOutCmd) Run(a *app) error {
	svc, _, u, err := a.accountOf(c.User)
	if err != nil {
		return err
	}
	if err := svc.RevokeAll(a.ctx, u.ID, account.Keep{}, a.auditTx("admin.user.sign-out", u.ID, "")); err != nil {
		return userErr("sign out", c.User, err)
	}
	fmt.Fprintf(a.stdout, "signed out %s everywhere; sessions, tokens and recovery flows revoked\n", u.Username)
	return nil
}

// auditTx records an administrator action inside the transaction that
// makes it, so the change and its audit row commit together.
func (a *app) auditTx(typ, userID, detail string) account.InTx {
	return func(_ context.Context, tx *gorm.DB) error {
		return audit.NewLog(tx).RecordTx(tx, audit.Event{
			Type: typ, UserID: userID, Outcome: "ok", Detail: detail, UserAgent: "latchkey-cli",
		})
	}
}

type userGroupsCmd struct {
	User   string   `arg:"" help:"Username, email address or user ID."`
	Add    []string `help:"Add a group (repeatable)."`
	Remove []string `help:"Remove a group (repeatable)."`
}

func (c *userGroupsCmd) Run(a *app) error {
	users, u, err := a.findUser(c.User)
	if err != nil {
		return err
	}
	if len(c.Add) > 0 {
		if err := users.AddGroups(a.ctx, u.ID, c.Add...); err != nil {
			return userErr("add groups", c.User, err)
		}
	}
	if len(c.Remove) > 0 {
		if err := users.RemoveGroups(a.ctx, u.ID, c.Remove...); err != nil {
			return userErr("remove groups", c.User, err)
		}
	}
	if len(c.Add)+len(c.Remove) > 0 {
		a.audit("admin.user.groups", u.ID, "ok", "add="+strings.Join(c.Add, ",")+" remove="+strings.Join(c.Remove, ","))
		if u, err = users.ByID(a.ctx, u.ID); err != nil {
			return err
		}
	}
	for _, g := range u.Groups {
		fmt.Fprintln(a.stdout, g)
	}
	return nil
}

// findUser resolves a username, email address or user ID.
func (a *app) findUser(ref string) (*user.Store, *user.User, error) {
	users, err := a.users()
	if err != nil {
		return nil, nil, err
	}
	u, err := users.ByLogin(a.ctx, ref)
	if errors.Is(err, user.ErrNotFound) {
		u, err = users.ByID(a.ctx, ref)
	}
	if err != nil {
		return nil, nil, userErr("find", ref, err)
	}
	return users, u, nil
}

// accountOf is findUser with the account service that changes the user.
func (a *app) accountOf(ref string) (*account.Service, *user.Store, *user.User, error) {
	_, u, err := a.findUser(ref)
	if err != nil {
		return nil, nil, nil, err
	}
	svc, users, err := a.accounts()
	if err != nil {
		return nil, nil, nil, err
	}
	return svc, users, u, nil
}

// userAndDatabase is findUser with the database, for the plugin's and the
// sessions' stores.
func (a *app) userAndDatabase(ref string) (*user.User, *gorm.DB, error) {
	_, u, err := a.findUser(ref)
	if err != nil {
		return nil, nil, err
	}
	g, err := a.database()
	if err != nil {
		return nil, nil, err
	}
	return u, g, nil
}

func userErr(op, ref string, err error) error {
	switch {
	case errors.Is(err, user.ErrNotFound):
		return fmt.Errorf("no user %q", ref)
	case errors.Is(err, user.ErrExists):
		return usageError{fmt.Errorf("%s %q: username or email address already registered", op, ref)}
	case errors.Is(err, user.ErrLastAdmin), errors.Is(err, user.ErrOwnAdmin):
		return usageError{fmt.Errorf("%s %q: refused: %w", op, ref, err)}
	case errors.Is(err, user.ErrInvalid):
		return usageError{fmt.Errorf("%s %q: %w", op, ref, err)}
	}
	return fmt.Errorf("%s %q: %w", op, ref, err)
}

func status(u *user.User, now time.Time) string {
	switch {
	case u.Disabled:
		return "disabled"
	case u.Locked(now):
		return "locked until " + u.LockedUntil.UTC().Format(time.RFC3339)
	case u.Admin:
		return "active, admin"
	}
	return "active"
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

type userClearReportCmd struct {
	User string `arg:"" help:"Username, email address or user ID."`
}

// Run ends the reported state a "This wasn't me" link put the account in.
// It does not unlock the account: the user recovers (which unlocks), or an
// administrator runs user unlock once the account is checked.
func (c *userClearReportCmd) Run(a *app) error {
	u, g, err := a.userAndDatabase(c.User)
	if err != nil {
		return err
	}
	cleared, err := plugin.ClearReport(a.ctx, g, u.ID)
	if err != nil {
		return userErr("clear report", c.User, err)
	}
	if !cleared {
		fmt.Fprintf(a.stdout, "%s has no report to clear\n", u.Username)
		return nil
	}
	a.audit("admin.user.clear-report", u.ID, "ok", "")
	fmt.Fprintf(a.stdout, "cleared the report on %s; self-service recovery works again (the account stays locked until the user recovers or you run user unlock)\n", u.Username)
	return nil
}
