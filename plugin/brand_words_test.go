package plugin_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/plugin/sender/smtp/smtptest"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
	"github.com/latchkeyid/latchkey/ui"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// TestBrandInMessages: with LATCHKEY_BRAND_NAME set, what Latchkey sends
// says the brand and never "Latchkey": the code mail and the notification
// (subject, header, footer) as a real SMTP server receives them, the text
// message and the call through the Twilio API, and the authenticator app's
// account name.
func TestBrandInMessages(t *testing.T) {
	const brand = "Example Corp"
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := plugintest.Start(t, dbURL, plugintest.Options{
			Methods: []string{"email", "mobile", "alternate-phone", "totp"}, SMTP: true,
			Brand:       &ui.Brand{Name: brand},
			PhoneLimits: func(l *phone.Limits) { l.PerNumber.Limit, l.PerUser.Limit, l.PerIP.Limit = 50, 50, 50 },
		})
		b := x.SignIn(t)
		says := func(t *testing.T, what string, texts map[string]string, want ...string) {
			t.Helper()
			for part, s := range texts {
				if strings.Contains(s, "Latchkey") {
					t.Errorf("%s %s says Latchkey: %q", what, part, s)
				}
			}
			all := strings.Join([]string{texts["subject"], texts["text"], texts["html"], texts["body"]}, "\n")
			for _, w := range want {
				if !strings.Contains(all, w) {
					t.Errorf("%s lacks %q:\n%s", what, w, all)
				}
			}
		}
		add := func(t *testing.T, kind string, vals map[string]string) *pt.Page {
			t.Helper()
			form := mustPage(t, b.Get(x.Server.URL+"/security-info/add/"+kind), "<form")
			vals["current_password"] = pt.Password
			return mustPage(t, b.Submit(form, `form[action="/security-info/add/`+kind+`"]`, vals), "<h1")
		}

		const addr = "alice.home@example.net"
		var code smtptest.Message
		t.Run("code-mail", func(t *testing.T) {
			step := add(t, "email", map[string]string{"address": addr})
			var err error
			if code, err = x.SMTP.Wait(t.Context(), addr); err != nil {
				t.Fatal(err)
			}
			says(t, "code mail", map[string]string{"subject": code.Subject, "text": code.Text, "html": code.HTML},
				"Your "+brand+" verification code", ">"+brand+"</p>", "Sent by "+brand+" at")
			c, err := x.SMTP.Code(t.Context(), addr)
			if err != nil {
				t.Fatal(err)
			}
			mustPage(t, b.Submit(step, "form", map[string]string{"code": c}), "<h1")
		})
		t.Run("notification-mail", func(t *testing.T) {
			m, err := x.SMTP.WaitMatch(t.Context(), pt.Email, func(m smtptest.Message) bool { return m.Subject != code.Subject })
			if err != nil {
				t.Fatal(err)
			}
			says(t, "notification", map[string]string{"subject": m.Subject, "text": m.Text, "html": m.HTML},
				">"+brand+"</p>", "Sent by "+brand+" at")
		})
		t.Run("text-message", func(t *testing.T) {
			add(t, "mobile", map[string]string{"phone": "+1 201 555 0123", "channel": "sms"})
			msgs := x.Gateway.Messages()
			if len(msgs) == 0 {
				t.Fatal("no text message sent")
			}
			says(t, "text message", map[string]string{"body": msgs[len(msgs)-1].Body}, brand)
		})
		t.Run("call", func(t *testing.T) {
			add(t, "alternate-phone", map[string]string{"phone": "+1 201 555 0124"})
			calls := x.Gateway.Calls()
			if len(calls) == 0 {
				t.Fatal("no call made")
			}
			var said []string
			for _, s := range calls[len(calls)-1].Says {
				said = append(said, s.Text)
			}
			says(t, "call", map[string]string{"body": strings.Join(said, " ")}, brand)
		})
		t.Run("authenticator-account", func(t *testing.T) {
			page := add(t, "totp", map[string]string{})
			u, err := url.Parse(page.Doc.Find("#otpauth").AttrOr("value", ""))
			if err != nil || u.Query().Get("issuer") != brand {
				t.Errorf("otpauth link %v (%v), want issuer %q", u, err, brand)
			}
		})
	})
}

// TestNotificationNamesTheMethodInItsLanguage: the mail about a method
// added from a German page names the method in German ("„E-Mail“"), not
// by its English title.
func TestNotificationNamesTheMethodInItsLanguage(t *testing.T) {
	de, _ := i18n.For("de")
	x := plugintest.Start(t, dbtest.URL(t, dbtest.SQLite), plugintest.Options{Methods: []string{"email", "questions"}, SMTP: true})
	b := x.SignIn(t)
	const addr = "alice.home@example.net"
	form := mustPage(t, b.Get(x.Server.URL+"/security-info/add/email?lang=de"), `id="address"`)
	step := mustPage(t, b.Submit(form, `form[action="/security-info/add/email"]`,
		map[string]string{"address": addr, "current_password": pt.Password}), `id="code"`)
	c, err := x.SMTP.Code(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	mustPage(t, b.Submit(step, "form", map[string]string{"code": c}), "<h1")
	m, err := x.SMTP.WaitMatch(t.Context(), pt.Email, func(m smtptest.Message) bool {
		return m.Subject == de.T("mail.method_added.subject")
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "„" + de.T("method.email.name") + "“"; !strings.Contains(m.Text, want) || strings.Contains(m.Text, "„Email“") {
		t.Errorf("the mail does not name the method %s:\n%s", want, m.Text)
	}

	// Questions, added in the same first session: their label in German too.
	x.SMTP.Clear()
	qs := mustPage(t, b.Get(x.Server.URL+"/security-info/add/questions?lang=de"), `name="question.0"`)
	f := readQuestionsForm(qs)
	vals := map[string]string{"current_password": pt.Password}
	for i, a := range []string{"Springfield Road", "Lasagne al forno", "Mr Whiskers"} {
		n := string(rune('0' + i))
		vals["question."+n], vals["answer."+n] = f.chosen[i], a
	}
	mustPage(t, b.Submit(qs, `form[action="/security-info/add/questions"]`, vals), "<h1")
	m, err = x.SMTP.WaitMatch(t.Context(), pt.Email, func(m smtptest.Message) bool {
		return m.Subject == de.T("mail.method_added.subject")
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "(" + de.T("method.label.questions", "Count", 3) + ")"; !strings.Contains(m.Text, want) || strings.Contains(m.Text, "security questions") {
		t.Errorf("the mail does not label the questions %s:\n%s", want, m.Text)
	}
}
