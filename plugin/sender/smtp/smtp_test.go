package smtp_test

import (
	"errors"
	"strings"
	"testing"

	gomail "github.com/wneessen/go-mail"

	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/plugin/sender/smtp"
	"github.com/latchkeyid/latchkey/plugin/sender/smtp/smtptest"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want smtp.Config
		err  bool
	}{
		{"plain-loopback-opportunistic", "smtp://127.0.0.1:2525?from=noreply@example.com",
			smtp.Config{Host: "127.0.0.1", Port: 2525, StartTLS: gomail.TLSOpportunistic, From: "<noreply@example.com>"}, false},
		{"remote-requires-starttls", "smtp://user:p%40ss@mail.example.com?from=noreply@example.com",
			smtp.Config{Host: "mail.example.com", Port: 587, StartTLS: gomail.TLSMandatory, Username: "user", Password: "p@ss", Auth: gomail.SMTPAuthAutoDiscover, From: "<noreply@example.com>"}, false},
		{"smtps-implicit", "smtps://mail.example.com?from=a@example.com",
			smtp.Config{Host: "mail.example.com", Port: 465, Implicit: true, StartTLS: gomail.TLSMandatory, From: "<a@example.com>"}, false},
		{"starttls-none", "smtp://mail.example.com:25?from=a@example.com&starttls=none",
			smtp.Config{Host: "mail.example.com", Port: 25, StartTLS: gomail.NoTLS, From: "<a@example.com>"}, false},
		{"auth-login", "smtp://u:p@mail.example.com?from=a@example.com&auth=login",
			smtp.Config{Host: "mail.example.com", Port: 587, StartTLS: gomail.TLSMandatory, Username: "u", Password: "p", Auth: gomail.SMTPAuthLogin, From: "<a@example.com>"}, false},
		{"missing-from", "smtp://mail.example.com", smtp.Config{}, true},
		{"bad-scheme", "http://mail.example.com?from=a@example.com", smtp.Config{}, true},
		{"bad-starttls", "smtp://mail.example.com?from=a@example.com&starttls=maybe", smtp.Config{}, true},
		{"unknown-param", "smtp://mail.example.com?from=a@example.com&x=1", smtp.Config{}, true},
		{"duplicate-param", "smtp://mail.example.com?from=a@example.com&from=b@example.com", smtp.Config{}, true},
		{"bad-port", "smtp://mail.example.com:99999?from=a@example.com", smtp.Config{}, true},
		{"auth-without-user", "smtp://mail.example.com?from=a@example.com&auth=plain", smtp.Config{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := smtp.ParseURL(tt.url)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if err != nil {
				if strings.Contains(err.Error(), "p@ss") || !errors.Is(err, smtp.ErrURL) {
					t.Fatalf("error %q leaks or is not ErrURL", err)
				}
				return
			}
			got.Timeout = 0
			if got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
	if _, err := smtp.ParseURL("smtp://u:secret@[::1"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("unparsable URL: %v", err)
	}
}

func TestSendToCatcher(t *testing.T) {
	tests := []struct {
		name string
		opts []smtptest.Option
	}{
		{"no-auth", nil},
		{"auth-plain", []smtptest.Option{smtptest.WithAuth("latchkey", "s3cret")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.Start(t, tt.opts...)
			s, err := smtp.New(srv.URL("Latchkey <noreply@example.com>"))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(t.Context(), sender.Message{Channel: sender.Email, To: "alice@example.com", Subject: "Your code – ünïcode",
				Text: "Your code is 12345678.\n", HTML: "<p>Your code is <b>12345678</b>.</p>"})
			if err != nil {
				t.Fatal(err)
			}
			m, err := srv.Wait(t.Context(), "alice@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != "Your code – ünïcode" || !strings.Contains(m.Text, "12345678") || !strings.Contains(m.HTML, "<b>12345678</b>") {
				t.Fatalf("received subject %q text %q html %q", m.Subject, m.Text, m.HTML)
			}
			if !strings.Contains(m.Header.Get("Content-Type"), "multipart/alternative") || m.From != "noreply@example.com" {
				t.Fatalf("content type %q from %q", m.Header.Get("Content-Type"), m.From)
			}
			if c, err := srv.Code(t.Context(), "alice@example.com"); err != nil || c != "12345678" {
				t.Fatalf("Code = %q, %v", c, err)
			}
		})
	}
}

func TestSendFailures(t *testing.T) {
	t.Run("wrong-password", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.WithAuth("latchkey", "right"))
		s, _ := smtp.New("smtp://latchkey:wrong@" + srv.Addr + "?from=noreply@example.com")
		err := s.Send(t.Context(), sender.Message{Channel: sender.Email, To: "a@example.com", Subject: "x", Text: "x"})
		if err == nil || errors.Is(err, sender.ErrPermanent) {
			t.Fatalf("err = %v, want a retryable failure", err)
		}
	})
	t.Run("rejected-recipient-is-permanent", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.WithRejectRcpt("gone@example.com"))
		s, _ := smtp.New(srv.URL("noreply@example.com"))
		err := s.Send(t.Context(), sender.Message{Channel: sender.Email, To: "gone@example.com", Subject: "x", Text: "x"})
		if !errors.Is(err, sender.ErrPermanent) {
			t.Fatalf("err = %v, want ErrPermanent", err)
		}
	})
	t.Run("starttls-required-but-absent", func(t *testing.T) {
		srv := smtptest.Start(t)
		s, _ := smtp.New(srv.URL("noreply@example.com") + "&starttls=required")
		if err := s.Send(t.Context(), sender.Message{Channel: sender.Email, To: "a@example.com", Subject: "x", Text: "x"}); err == nil {
			t.Fatal("sent in clear although STARTTLS is required")
		}
		if len(srv.Messages()) != 0 {
			t.Fatal("catcher received a message")
		}
	})
	t.Run("no-server", func(t *testing.T) {
		s, _ := smtp.New("smtp://127.0.0.1:1?from=noreply@example.com")
		if err := s.Send(t.Context(), sender.Message{Channel: sender.Email, To: "a@example.com", Subject: "x", Text: "x"}); err == nil {
			t.Fatal("no error without a server")
		}
	})
}
