package bench

import (
	"net/smtp"
	"strings"
	"testing"
	"time"
)

// The sink hands the code of a quoted-printable multipart mail, as the
// server's SMTP sender writes it, to whoever waits for its recipient, and
// drops mail without a code or for nobody waiting.
func TestSinkDeliversCodes(t *testing.T) {
	s, err := ListenSink("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := ListenSink("0.0.0.0:0"); err == nil {
		t.Fatal("the sink must refuse a non-loopback address")
	}
	codes := s.Expect("Ada@bench.invalid")
	send := func(to, text string) {
		t.Helper()
		msg := "From: <idp@bench.invalid>\r\nTo: <" + to + ">\r\nSubject: code\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/alternative; boundary=b1\r\n\r\n" +
			"--b1\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + text + "\r\n" +
			"--b1\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n<p>99999999</p>\r\n--b1--\r\n"
		if err := smtp.SendMail(s.Addr(), nil, "idp@bench.invalid", []string{to}, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	send("someone@bench.invalid", "Your verification code is: 11111111")
	send("ada@bench.invalid", "Your password was changed on 2026-12-02.")
	send("ada@bench.invalid", "Your verification code is: 0782=\r\n2469\r\n\r\nIt expires in 10 minutes.")
	select {
	case c := <-codes:
		if c != "07822469" {
			t.Fatalf("code = %q, want 07822469 (the soft line break joined)", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no code delivered")
	}
	select {
	case c := <-codes:
		t.Fatalf("unexpected second code %q", c)
	default:
	}
	if got := messageText([]byte("not a mail")); !strings.Contains(got, "not a mail") {
		t.Fatalf("unparsable mail: %q", got)
	}
}
