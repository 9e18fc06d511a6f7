package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/latchkeyid/latchkey/plugin/compose"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/email"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/plugin/sender/outbox"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/ui/i18n"
	lkmail "github.com/latchkeyid/latchkey/ui/mail"
)

type methodCmd struct {
	Add    methodAddCmd    `cmd:"" help:"Register a verified method for a user (email, mobile, alternate-phone, office-phone)."`
	List   methodListCmd   `cmd:"" help:"List a user's methods."`
	Remove methodRemoveCmd `cmd:"" help:"Remove a method."`
}

type methodAddCmd struct {
	User      string `required:"" help:"Username, email address or user ID."`
	Type      string `required:"" enum:"email,mobile,alternate-phone,office-phone" help:"Method type."`
	Value     string `required:"" help:"Email address or phone number."`
	Extension string `help:"Office phone extension (digits only)."`
}

// provisioner is what the email and phone methods offer `method add`: an
// enrollment of a destination an administrator vouches for, made without
// sending a code.
type provisioner interface {
	method.Method
	Provision(ctx context.Context, userID string, in method.Input) (method.Enrollment, error)
}

// Run registers the value as a proven method of the user. No code is sent:
// the administrator vouches for the value. It meets the checks a user's
// registration meets (address syntax; phone type, country allowlist,
// extension) and is sealed as serve seals one, so recovery can use it.
func (c *methodAddCmd) Run(a *app) error {
	name := method.Name(c.Type)
	in := method.Input{phone.FieldPhone: c.Value, phone.FieldExtension: c.Extension}
	if name == method.Email {
		if c.Extension != "" {
			return usageError{errors.New("--extension is only for --type office-phone")}
		}
		in = method.Input{email.FieldAddress: c.Value}
	}
	_, u, err := a.findUser(c.User)
	if err != nil {
		return err
	}
	m, err := a.provisioner(name)
	if err != nil {
		return err
	}
	e, err := m.Provision(a.ctx, u.ID, in)
	var ie *method.InvalidError
	if errors.As(err, &ie) {
		flag, value := "--value", c.Value
		switch ie.Field {
		case phone.FieldExtension:
			flag, value = "--extension", c.Extension
		case phone.FieldCountry: // a number without +CC is read in this region
			flag, value = "LATCHKEY_DEFAULT_REGION", a.cfg.DefaultRegion
		}
		return usageError{fmt.Errorf("%s %q: %s", flag, value, ie.Reason(i18n.English()))}
	}
	if err != nil {
		return err
	}
	// Usable at once (no cool-down): the cool-down keeps a stolen session
	// from planting a way in and using it at once, but this command's
	// operator already holds the database and the secret.
	if err := method.NewStore(a.g).Add(a.ctx, &e, 0); err != nil {
		if errors.Is(err, method.ErrDuplicate) {
			return fmt.Errorf("%s already has %s %s (see latchkey method list --user %s)", u.Username, name, e.Label, u.Username)
		}
		return err
	}
	a.audit("admin.method.add", u.ID, "ok", fmt.Sprintf("method=%s label=%s", e.Method, e.Label))
	a.notifyMethodChange(u.ID, e, true)
	fmt.Fprintf(a.stdout, "added %s %s for %s\n", e.Method, e.Label, u.Username)
	a.warnUndeliverable(name)
	return nil
}

// provisioner builds the named method as serve does, on the same keyring
// (so serve opens what it seals), without anything that sends: Provision
// sends nothing.
func (a *app) provisioner(name method.Name) (provisioner, error) {
	if name != method.Email {
		// What serve's phone wiring reads besides the database and secret.
		if err := a.check([]string{"LATCHKEY_DEFAULT_REGION", "LATCHKEY_TWILIO_URL", "LATCHKEY_TWILIO_ACCOUNT_SID",
			"LATCHKEY_TWILIO_AUTH_TOKEN", "LATCHKEY_TWILIO_FROM"}); err != nil {
			return nil, err
		}
	}
	g, err := a.database()
	if err != nil {
		return nil, err
	}
	k, err := a.keyring()
	if err != nil {
		return nil, err
	}
	codes := method.NewCodes(g, k)
	if name == method.Email {
		// A queue without senders, as serve has without SMTP: enough, since
		// Provision queues nothing.
		tmpl, err := lkmail.New(a.cfg.Issuer, lkmail.WithBrand(a.cfg.Brand().ProductName()))
		if err != nil {
			return nil, err
		}
		return email.New(codes, sender.NewQueue(g, k, nil), tmpl, k), nil
	}
	// serve's own phone wiring (the policy's allowlist, the default
	// region); in dev mode the outbox stands in for a missing gateway, as it
	// never receives anything here.
	s := &server{a: a, log: slog.New(slog.DiscardHandler)}
	users, err := a.users()
	if err != nil {
		return nil, err
	}
	c, _, err := s.ssprConfig(g, k, users, audit.NewLog(g))
	if err != nil {
		return nil, err
	}
	if c.SMS == nil && c.Voice == nil {
		c.SMS, c.Voice = outbox.New().Sender(sender.SMS), outbox.New().Sender(sender.Voice)
	}
	sspr, err := compose.Methods(c)
	if err != nil {
		return nil, err
	}
	ms := sspr.Methods.Names()
	for _, n := range ms {
		m, _ := sspr.Methods.Get(n)
		if p, ok := m.(provisioner); ok && n == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("method add: %s cannot be provisioned", name)
}

// warnUndeliverable tells the operator when the new method cannot be used
// yet: no sender configured for it, or not enabled by the recovery policy.
func (a *app) warnUndeliverable(name method.Name) {
	if !slices.Contains(availableMethods(a.cfg.Dev, a.cfg.SMTPURL != "", a.cfg.TwilioAccountSID != ""), string(name)) {
		what := "LATCHKEY_TWILIO_*"
		if name == method.Email {
			what = "LATCHKEY_SMTP_URL"
		}
		fmt.Fprintf(a.stderr, "latchkey: note: no codes can be sent to it until %s is configured\n", what)
	}
	if policies, err := a.policies(); err == nil {
		if pol, err := policies.Get(a.ctx); err == nil && !pol.Enabled(string(name)) {
			fmt.Fprintf(a.stderr, "latchkey: note: the recovery policy does not enable %s (latchkey policy set methods=...)\n", name)
		}
	}
}

type methodListCmd struct {
	User string `required:"" help:"Username, email address or user ID."`
}

func (c *methodListCmd) Run(a *app) error {
	_, u, err := a.findUser(c.User)
	if err != nil {
		return err
	}
	list, err := method.NewStore(a.g).List(a.ctx, u.ID)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tMETHOD\tLABEL\tVERIFIED\tUSABLE FROM\tLAST USED")
	for _, e := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.Method, e.Label, stamp(e.VerifiedAt), stamp(e.UsableAt), stampPtr(e.LastUsedAt))
	}
	return w.Flush()
}

type methodRemoveCmd struct {
	User string `required:"" help:"Username, email address or user ID."`
	ID   string `required:"" help:"Method ID (from method list)."`
}

func (c *methodRemoveCmd) Run(a *app) error {
	_, u, err := a.findUser(c.User)
	if err != nil {
		return err
	}
	store := method.NewStore(a.g, method.WithStoreClock(func() time.Time { return time.Now().UTC() }))
	e, err := store.Get(a.ctx, u.ID, c.ID)
	if err != nil {
		return fmt.Errorf("no method %q for %s", c.ID, u.Username)
	}
	// Mailed first, so a removed address hears of it too.
	a.notifyMethodChange(u.ID, e, false)
	if err := store.Delete(a.ctx, u.ID, c.ID); err != nil {
		return err
	}
	a.audit("admin.method.remove", u.ID, "ok", fmt.Sprintf("method=%s label=%s", e.Method, e.Label))
	fmt.Fprintf(a.stdout, "removed %s method %s of %s\n", e.Method, e.Label, u.Username)
	return nil
}
