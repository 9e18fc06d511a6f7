package main

import (
	"encoding/json"
	"fmt"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/policy"
)

type policyCmd struct {
	Show      policyShowCmd      `cmd:"" help:"Show the recovery policy as JSON."`
	Set       policySetCmd       `cmd:"" help:"Change the recovery policy: latchkey policy set required=2 methods=email,totp ..."`
	Questions policyQuestionsCmd `cmd:"" help:"List, add, edit and remove the custom security questions and their translations."`
}

type policyShowCmd struct{}

func (c *policyShowCmd) Run(a *app) error {
	store, err := a.policies()
	if err != nil {
		return err
	}
	p, err := store.Get(a.ctx)
	if err != nil {
		return err
	}
	return printJSON(a, p)
}

type policySetCmd struct {
	Settings []string `arg:"" help:"key=value settings; keys: ${keys}." placeholder:"KEY=VALUE"`
}

func (c *policySetCmd) Run(a *app) error {
	store, err := a.policies()
	if err != nil {
		return err
	}
	cur, err := store.Get(a.ctx)
	if err != nil {
		return err
	}
	next, err := policy.Apply(cur, c.Settings)
	if err != nil {
		return usageError{err}
	}
	if err := store.Set(a.ctx, next); err != nil {
		return err
	}
	a.audit("admin.policy.set", "", "ok", policy.DescribeChanges(cur, next))
	return printJSON(a, next)
}

func (a *app) policies() (*policy.Store, error) {
	g, err := a.database()
	if err != nil {
		return nil, err
	}
	return a.policyStore(g), nil
}

// policyStore is the policy on g, with this deployment's defaults.
func (a *app) policyStore(g *gorm.DB) *policy.Store {
	return policy.NewStore(g, policy.Default(a.availableMethods()))
}

func (a *app) availableMethods() []string {
	return availableMethods(a.cfg.Dev, a.cfg.SMTPURL != "", a.cfg.TwilioAccountSID != "")
}

// availableMethods are the methods this deployment can deliver: email
// needs SMTP, phone methods Twilio (dev mode's outbox stands in for both);
// the authenticator app (code and push) and questions need nothing.
func availableMethods(dev, smtp, twilio bool) []string {
	out := []string{policy.TOTP, policy.Push, policy.Questions}
	if smtp || dev {
		out = append(out, policy.Email)
	}
	if twilio || dev { // dev mode's outbox records texts and calls
		out = append(out, policy.Mobile, policy.AlternatePhone, policy.OfficePhone)
	}
	return out
}

func printJSON(a *app, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(a.stdout, string(b))
	return err
}
