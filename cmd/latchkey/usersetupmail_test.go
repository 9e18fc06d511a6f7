package main

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/plugin/sender/smtp"
	"github.com/latchkeyid/latchkey/plugin/sender/smtp/smtptest"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
)

// `user create --setup-link --send-email` and `user reset-password
// --setup-link --send-email` queue the link's mail, in the user's
// language; the server's dispatcher (here a queue with a real SMTP
// sender on loopback) delivers it, and the link in it works.
func TestUserSetupLinkEmail(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		c := newCLI(t, dbURL)
		if r := c.run("", "user", "create", "--username", "nina", "--email", "nina@example.com", "--setup-link", "--send-email"); r.code != exitUsage || !strings.Contains(r.err, "LATCHKEY_SMTP_URL") {
			t.Fatalf("--send-email without SMTP: exit %d: %s", r.code, r.err)
		}
		if r := c.run("", "user", "create", "--username", "nina", "--email", "nina@example.com", "--send-email"); r.code == 0 {
			t.Fatal("--send-email without --setup-link accepted")
		}
		mail := smtptest.Start(t)
		t.Setenv("LATCHKEY_SMTP_URL", mail.URL("latchkey@example.com"))
		out := c.must("", "user", "create", "--username", "nina", "--email", "nina@example.com", "--locale", "es", "--setup-link", "--send-email")
		if !strings.Contains(out, "queued for nina@example.com") || strings.Contains(out, "token=") {
			t.Fatalf("output:\n%s", out)
		}
		g := dbtest.Open(t, c.dbURL, migrationSets()...)
		k, err := secret.Parse(c.secret)
		if err != nil {
			t.Fatal(err)
		}
		users := user.NewStore(g, password.NewHasher(password.Params{Memory: 7168, Time: 5, Threads: 1}), user.WithKeyring(k))
		deliver := func() smtptest.Message {
			t.Helper()
			mail.Clear()
			s, err := smtp.New(mail.URL("latchkey@example.com"))
			if err != nil {
				t.Fatal(err)
			}
			if n, err := sender.NewQueue(g, k, []sender.Sender{s}).Drain(t.Context()); err != nil || n != 1 {
				t.Fatalf("drain: %d, %v", n, err)
			}
			m, err := mail.Wait(t.Context(), "nina@example.com")
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		linkRE := regexp.MustCompile(`http://localhost:8080/security-info/setup\?token=(\S+)`)
		check := func(m smtptest.Message) {
			t.Helper()
			link := linkRE.FindStringSubmatch(m.Text)
			if link == nil || !strings.Contains(m.Subject, "contraseña") {
				t.Fatalf("mail %q:\n%s", m.Subject, m.Text)
			}
			tok, _ := url.QueryUnescape(link[1])
			nina, err := users.ByLogin(t.Context(), "nina")
			if err != nil {
				t.Fatal(err)
			}
			if id, err := users.SetupLinkUser(t.Context(), tok); err != nil || id != nina.ID {
				t.Fatalf("the mailed link names %q (%v)", id, err)
			}
		}
		check(deliver())
		out = c.must("", "user", "reset-password", "nina", "--setup-link", "--send-email")
		if !strings.Contains(out, "queued for nina@example.com") {
			t.Fatalf("reset output:\n%s", out)
		}
		check(deliver())
	})
}
