package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method"
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

// Run is not available yet: registering a method without the code sent to
// it needs an administrative enrollment call from the method packages,
// which do not offer one in this build.
func (c *methodAddCmd) Run(a *app) error {
	return errors.New("method add is not available in this build yet; users register methods at /security-info")
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
	if err := store.Delete(a.ctx, u.ID, c.ID); err != nil {
		return err
	}
	a.audit("admin.method.remove", u.ID, "ok", fmt.Sprintf("method=%s label=%s", e.Method, e.Label))
	fmt.Fprintf(a.stdout, "removed %s method %s of %s\n", e.Method, e.Label, u.Username)
	return nil
}
