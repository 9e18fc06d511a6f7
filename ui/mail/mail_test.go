package mail_test

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/ui/i18n"
	"github.com/latchkeyid/latchkey/ui/mail"
)

func TestRenderEveryMessage(t *testing.T) {
	tm, err := mail.New("https://id.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]any{"Code": "12345678", "Minutes": 10, "Purpose": "recover", "Time": time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		"IP": "192.0.2.1", "Methods": "email, authenticator app", "Method": "email", "Label": "a•••e@example.com",
		"ReportURL": tm.Link("/recover/report?token=abc"), "Username": "<script>alert(1)</script>",
		"SetupURL": tm.Link("/security-info/setup?token=abc"), "Expires": time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	for _, name := range mail.Names {
		t.Run(name, func(t *testing.T) {
			m, err := tm.Render(t.Context(), name, data)
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
	if _, err := tm.Render(t.Context(), "nope", nil); err == nil {
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

// A message goes out in the language of the request that caused it, with
// its time in the browser's zone; outside a request, in English.
func TestRenderInRequestLanguage(t *testing.T) {
	tm, err := mail.New("https://id.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 13, 5, 0, 0, time.UTC)
	data := map[string]any{"Time": at, "IP": "192.0.2.1", "Methods": "E-Mail", "ReportURL": tm.Link("/r")}
	de, _ := i18n.For("de")
	berlin := i18n.Zone("Europe/Berlin")
	for _, tc := range []struct {
		l                       *i18n.Localizer
		subject, body, htmlLang string
	}{
		{nil, "Your password was reset", "On 2 March 2026, 13:05 (UTC) the password", `lang="en"`},
		{de.InZone(berlin), "Ihr Passwort wurde zurückgesetzt", "Am 2. März 2026, 14:05 Uhr (Europe/Berlin) wurde", `lang="de"`},
	} {
		ctx := t.Context()
		if tc.l != nil {
			ctx = i18n.With(ctx, tc.l)
		}
		m, err := tm.Render(ctx, mail.PasswordReset, data)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != tc.subject || !strings.Contains(m.Text, tc.body) || !strings.Contains(m.HTML, tc.htmlLang) {
			t.Errorf("message %q:\n%s\n%s", m.Subject, m.Text, m.HTML)
		}
	}
}

// Every message, in every language but English, leaves no English line
// behind (the data it shows, links and the brand apart).
func TestEveryMessageTranslated(t *testing.T) {
	tm, err := mail.New("https://id.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]any{"Code": "12345678", "Minutes": 10, "Purpose": "recover", "Time": time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		"IP": "192.0.2.1", "Methods": "email", "Method": "email", "Label": "a•••e@example.com",
		"ReportURL": tm.Link("/recover/report?token=abc"), "Username": "alice",
		"SetupURL": tm.Link("/security-info/setup?token=abc"), "Expires": time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	lines := func(m mail.Message) []string {
		var out []string
		for _, l := range strings.Split(m.Subject+"\n"+m.Text, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "https://") {
				out = append(out, l)
			}
		}
		return out
	}
	for _, name := range mail.Names {
		for _, purpose := range []string{"recover", "register", "stepup"} {
			data["Purpose"] = purpose
			en, err := tm.Render(t.Context(), name, data)
			if err != nil {
				t.Fatal(err)
			}
			english := map[string]bool{}
			for _, l := range lines(en) {
				english[l] = true
			}
			for _, lang := range []string{"de", "fr", "es", "ja", "ar"} {
				l, _ := i18n.For(lang)
				m, err := tm.Render(i18n.With(t.Context(), l), name, data)
				if err != nil {
					t.Fatal(err)
				}
				for _, line := range lines(m) {
					if english[line] {
						t.Errorf("%s (%s) in %s still says %q", name, purpose, lang, line)
					}
				}
				if !strings.Contains(m.HTML, `lang="`+lang+`"`) {
					t.Errorf("%s in %s: the HTML part is not marked lang=%s", name, lang, lang)
				}
			}
		}
	}
}
