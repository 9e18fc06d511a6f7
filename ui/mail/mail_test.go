package mail_test

import (
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/ui/mail"
)

func TestRenderEveryMessage(t *testing.T) {
	tm, err := mail.New("https://id.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]any{"Code": "12345678", "Minutes": 10, "Purpose": "recover", "Time": "2026-11-26 12:00 UTC",
		"IP": "192.0.2.1", "Methods": "email, authenticator app", "Method": "email", "Label": "a•••e@example.com",
		"ReportURL": tm.Link("/recover/report?token=abc"), "Username": "<script>alert(1)</script>"}
	for _, name := range mail.Names {
		t.Run(name, func(t *testing.T) {
			m, err := tm.Render(name, data)
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject == "" || strings.Contains(m.Subject, "\n") || m.Text == "" || !strings.Contains(m.HTML, "<html") {
				t.Fatalf("incomplete message %+v", m)
			}
			for _, body := range []string{m.Text, m.HTML} {
				for _, link := range strings.Fields(body) {
					if i := strings.Index(link, "http"); i >= 0 && !strings.Contains(link[i:], "https://id.example.com") {
						t.Fatalf("link %q not built from the issuer", link)
					}
				}
			}
			if strings.Contains(m.HTML, "<script>") {
				t.Fatal("HTML not escaped")
			}
			if name != mail.Code && strings.Contains(m.Text+m.HTML, "12345678") {
				t.Fatal("a notification carries a code")
			}
		})
	}
	if _, err := tm.Render("nope", nil); err == nil {
		t.Fatal("unknown message rendered")
	}
	if got := tm.Link("security-info"); got != "https://id.example.com/security-info" {
		t.Fatalf("Link = %q", got)
	}
}

func TestIssuerRequired(t *testing.T) {
	for _, bad := range []string{"", "id.example.com", "ftp://id.example.com", "https://"} {
		if _, err := mail.New(bad); err == nil {
			t.Fatalf("New(%q) accepted", bad)
		}
	}
}
