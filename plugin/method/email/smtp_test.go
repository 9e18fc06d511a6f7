package email_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/email"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/plugin/sender/smtp"
	"github.com/latchkeyid/latchkey/plugin/sender/smtp/smtptest"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/ui/mail"
)

// TestThroughRealSMTP registers and verifies an address with codes read
// from a real SMTP server on loopback, delivered by the queue's dispatcher.
func TestThroughRealSMTP(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		catcher := smtptest.Start(t, smtptest.WithAuth("latchkey", "pw"))
		s, err := smtp.New(catcher.URL("Latchkey <noreply@example.com>"))
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := secret.Parse(secret.Generate())
		q := sender.NewQueue(g, keys, []sender.Sender{s}, sender.WithPoll(50*time.Millisecond))
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { q.Run(runCtx); close(done) }()
		defer func() { cancel(); <-done }()
		tmpl, _ := mail.New("https://id.example.com")
		m := email.New(method.NewCodes(g, keys), q, tmpl, keys)
		store := method.NewStore(g)
		u := method.Ref{ID: "u-smtp", Username: "erin"}

		p, err := m.Begin(ctx, "reg", u, method.Input{"address": "erin@example.org"})
		if err != nil {
			t.Fatal(err)
		}
		code, err := catcher.Code(ctx, "erin@example.org")
		if err != nil {
			t.Fatal(err)
		}
		e, res, err := m.Finish(ctx, "reg", u, p, method.Input{"code": code})
		if err != nil || !res.OK {
			t.Fatal(res, err)
		}
		if err := store.Add(ctx, &e, 0); err != nil {
			t.Fatal(err)
		}
		catcher.Clear()
		c, err := m.Challenge(ctx, "recover", u, e)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := catcher.Wait(ctx, "erin@example.org")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(msg.HTML, "https://id.example.com") || msg.Subject != "Your Latchkey verification code" {
			t.Fatalf("message %q / %q", msg.Subject, msg.HTML)
		}
		code, _ = catcher.Code(ctx, "erin@example.org")
		if res, err := m.Verify(ctx, "recover", u, e, c, method.Input{"code": code}); err != nil || !res.OK {
			t.Fatalf("Verify = %+v, %v", res, err)
		}
	})
}
