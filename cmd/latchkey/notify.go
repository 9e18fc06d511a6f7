package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/email"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/provider/audit"
	lkmail "github.com/latchkeyid/latchkey/ui/mail"
)

// notifyMethodChange queues the mail the Security info page sends for a
// method change, to the user's addresses, with the "This wasn't me" link.
// The queue lives in the database: a running server sends it. A failure
// is told, not fatal: the change itself is done (or, for a removal, about
// to be) and audited.
func (a *app) notifyMethodChange(userID string, e method.Enrollment, added bool) {
	if err := a.tryNotifyMethodChange(userID, e, added); err != nil {
		fmt.Fprintf(a.stderr, "latchkey: note: the user could not be mailed about the change: %v\n", err)
	}
}

func (a *app) tryNotifyMethodChange(userID string, e method.Enrollment, added bool) error {
	g, err := a.database()
	if err != nil {
		return err
	}
	k, err := a.keyring()
	if err != nil {
		return err
	}
	users, err := a.users()
	if err != nil {
		return err
	}
	policies, err := a.policies()
	if err != nil {
		return err
	}
	tmpl, err := lkmail.New(a.cfg.Issuer, lkmail.WithBrand(a.cfg.Brand().ProductName()))
	if err != nil {
		return err
	}
	if a.cfg.SMTPURL == "" && !a.cfg.Dev {
		return errors.New("no LATCHKEY_SMTP_URL, so the server could not send it")
	}
	q := sender.NewQueue(g, k, []sender.Sender{serverSends(sender.Email)})
	// The email method opens the user's registered addresses.
	reg, err := method.NewRegistry(email.New(method.NewCodes(g, k), q, tmpl, k))
	if err != nil {
		return err
	}
	n, err := plugin.NewNotifier(plugin.Deps{DB: g, Users: users, Audit: audit.NewLog(g), Keys: k, Methods: reg,
		Enrollments: method.NewStore(g), Policy: policies, Queue: q, Issuer: a.cfg.Issuer, Mail: tmpl})
	if err != nil {
		return err
	}
	return n.MethodChanged(a.ctx, userID, e, added)
}

// serverSends stands in for the server's sender of a channel: the command
// only queues, and the running server's dispatcher delivers.
type serverSends sender.Channel

func (s serverSends) Channel() sender.Channel { return sender.Channel(s) }

func (serverSends) Send(context.Context, sender.Message) error {
	return errors.New("latchkey: queued mail is sent by the running server")
}
