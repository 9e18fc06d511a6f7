package plugin_test

import (
	"html"
	"io/fs"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/plugin/method/questions"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
	"github.com/latchkeyid/latchkey/ui/i18n"
	"github.com/latchkeyid/latchkey/ui/locales"
)

// refusal is one reason an add form refuses what was typed: the form, what
// is typed over its defaults, the message (ID and data) and the control it
// must be tied to.
type refusal struct {
	name, method string
	in           map[string]string
	key          string
	args         []any
	control      string // CSS selector of the control described by the message
}

// notOverHTTP are the invalid.* messages no add form can reach, and why;
// every other one must be in the table below.
var notOverHTTP = map[string]string{
	"invalid.phone.unknown_type": "libphonenumber gives every valid number a type; kept for a metadata update",
	"invalid.code.expired":       "no method returns method.ErrExpired today; an expired code ends the challenge (verify.error.dead)",
}

// TestRefusalsInGerman: every reason a method's input is refused reaches
// the add page, over real HTTP, in the page's language (German here, never
// the English of Go), tied to the refused field by aria-describedby.
func TestRefusalsInGerman(t *testing.T) {
	de, _ := i18n.For("de")
	en := i18n.English()
	long := strings.Repeat("x", 41)
	tests := []refusal{
		{"email-empty", "email", map[string]string{"address": " "}, "invalid.email.empty", nil, "#address"},
		{"email-name-and-address", "email", map[string]string{"address": "Eve <eve@example.com>"}, "invalid.email.single", nil, "#address"},
		{"email-two", "email", map[string]string{"address": "a@example.com, b@example.com"}, "invalid.email.single", nil, "#address"},

		{"phone-empty", "mobile", map[string]string{"phone": ""}, "invalid.phone.empty", nil, "#phone"},
		{"phone-too-long", "mobile", map[string]string{"phone": "+1 201 555 0123 " + long}, "invalid.phone.shape", nil, "#phone"},
		{"phone-tab", "mobile", map[string]string{"phone": "+1 201\t555 0123"}, "invalid.phone.shape", nil, "#phone"},
		{"phone-unknown-country", "mobile", map[string]string{"phone": "2015550123", "country": "XX"}, "invalid.phone.choose_country", nil, "#country"},
		{"phone-not-a-number", "mobile", map[string]string{"phone": "+1 555 555 5555"}, "invalid.phone.number", nil, "#phone"},
		{"phone-extension-inline", "office-phone", map[string]string{"phone": "+1 201 555 0123 ext. 12"}, "invalid.phone.extension_inline", nil, "#phone"},
		{"phone-premium-rate", "alternate-phone", map[string]string{"phone": "+1 900 234 5678"}, "invalid.phone.premium_rate", nil, "#phone"},
		{"phone-shared-cost", "alternate-phone", map[string]string{"phone": "+33 8 84 01 23 45"}, "invalid.phone.shared_cost", nil, "#phone"},
		{"phone-pager", "alternate-phone", map[string]string{"phone": "+44 7640 123456"}, "invalid.phone.pager", nil, "#phone"},
		{"phone-uan", "alternate-phone", map[string]string{"phone": "+44 55 1234 5678"}, "invalid.phone.uan", nil, "#phone"},
		{"phone-personal", "alternate-phone", map[string]string{"phone": "+1 500 234 5678"}, "invalid.phone.personal", nil, "#phone"},
		{"phone-voicemail", "alternate-phone", map[string]string{"phone": "+49 177 991234567"}, "invalid.phone.voicemail", nil, "#phone"},
		{"phone-landline-for-texts", "mobile", map[string]string{"phone": "+44 121 234 5678"}, "invalid.phone.landline", nil, "#phone"},
		{"phone-toll-free-for-texts", "mobile", map[string]string{"phone": "+1 800 234 5678"}, "invalid.phone.toll_free", nil, "#phone"},
		{"phone-country-not-allowed", "mobile", map[string]string{"phone": "+44 7400 123456"}, "invalid.phone.country", nil, "#phone"},
		{"extension-too-long", "office-phone", map[string]string{"phone": "+1 201 555 0123", "extension": "12345678901"}, "invalid.extension.long", []any{"Max", phone.MaxExtension}, "#extension"},
		{"extension-letters", "office-phone", map[string]string{"phone": "+1 201 555 0123", "extension": "12a"}, "invalid.extension.digits", nil, "#extension"},
		{"extension-on-a-mobile", "mobile", map[string]string{"phone": "+1 201 555 0123", "extension": "12"}, "invalid.extension.office_only", nil, "#phone"},
		{"channel-unknown", "mobile", map[string]string{"phone": "+1 201 555 0123", "channel": "fax"}, "invalid.channel.choose", nil, `input[name="channel"]`},
		{"channel-text-to-a-call-only-phone", "alternate-phone", map[string]string{"phone": "+1 201 555 0123", "channel": "sms"}, "invalid.channel.calls_only", nil, "#phone"},

		{"question-unknown", "questions", map[string]string{"question.2": "zzz"}, "invalid.question.choose", []any{"N", 3}, "#question-2"},
		{"question-twice", "questions", map[string]string{"question.1": "same"}, "invalid.question.repeated", []any{"N", 2}, "#question-1"},
		{"answer-short", "questions", map[string]string{"answer.0": "ab"}, "invalid.answer.short", []any{"N", 1, "Min", questions.MinAnswer}, "#answer-0"},
		{"answer-long", "questions", map[string]string{"answer.1": strings.Repeat("y", questions.MaxAnswer+1)}, "invalid.answer.long", []any{"N", 2, "Max", questions.MaxAnswer}, "#answer-1"},
		{"answer-email-address", "questions", map[string]string{"answer.2": pt.Email}, "invalid.answer.identity", []any{"N", 3}, "#answer-2"},
		{"answer-repeated", "questions", map[string]string{"answer.1": "Springfield Road"}, "invalid.answer.repeat", []any{"N", 2}, "#answer-1"},
		{"answer-common", "questions", map[string]string{"answer.1": "pizza"}, "invalid.answer.common", []any{"N", 2}, "#answer-1"},
		{"answer-control-character", "questions", map[string]string{"answer.0": "Spring\x01field"}, "invalid.answer.control", []any{"N", 1}, "#answer-0"},
		{"answer-password", "questions", map[string]string{"answer.2": pt.Password}, "invalid.answer.password", []any{"N", 3}, "#answer-2"},
	}

	t.Run("table-covers-the-catalog", func(t *testing.T) {
		b, err := fs.ReadFile(locales.FS, "invalid.en.toml")
		if err != nil {
			t.Fatal(err)
		}
		var keys map[string]any
		if _, err := toml.Decode(string(b), &keys); err != nil {
			t.Fatal(err)
		}
		covered := map[string]bool{}
		for _, tc := range tests {
			covered[tc.key] = true
		}
		for k := range keys {
			if _, why := notOverHTTP[k]; !covered[k] && !why {
				t.Errorf("no case triggers %s", k)
			}
		}
	})

	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "US", "totp", "email", "mobile", "alternate-phone", "office-phone", "questions")
		b := x.SignIn(t)

		addEmail := addEmailIn(x, b)
		secret := x.EnrollTOTP(t)
		x.EnrollEmail(t, "alice.home@example.net")
		b.Get(x.Server.URL + "/security-info?lang=en")
		x.StepUpTOTP(t, b, secret)

		t.Run("code-wrong", func(t *testing.T) {
			code := addEmail(t, "other@example.net", pt.Password)
			page := mustPage(t, b.Submit(code, "form", map[string]string{"code": "00000000"}), "<h1")
			checkRefusal(t, page, de.T("securityinfo.wrong.code"), en.T("securityinfo.wrong.code"), "#code")
		})
		t.Run("address-already-registered", func(t *testing.T) {
			code := addEmail(t, "alice.home@example.net", pt.Password)
			page := mustPage(t, b.Submit(code, "form", map[string]string{"code": x.MailCode(t, "alice.home@example.net")}), "<h1")
			checkRefusal(t, page, de.T("securityinfo.error.duplicate"), en.T("securityinfo.error.duplicate"), "#address")
		})

		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				form := mustPage(t, b.Get(x.Server.URL+"/security-info/add/"+tc.method+"?lang=de"), "<form")
				vals := map[string]string{"current_password": pt.Password}
				if tc.method == "questions" {
					f := readQuestionsForm(form)
					for i, a := range []string{"Springfield Road", "Lasagne al forno", "Mr Whiskers"} {
						n := string(rune('0' + i))
						vals["question."+n], vals["answer."+n] = f.chosen[i], a
					}
					if tc.in["question.1"] == "same" {
						tc.in["question.1"] = f.chosen[0]
					}
				}
				for k, v := range tc.in {
					vals[k] = v
				}
				res := b.Submit(form, `form[action="/security-info/add/`+tc.method+`"]`, vals)
				if res.Page == nil {
					t.Fatalf("no page: %s", res)
				}
				checkRefusal(t, res.Page, de.T(tc.key, tc.args...), en.T(tc.key, tc.args...), tc.control)
			})
		}
	})
}

// addEmailIn returns a helper that submits the German add-email form.
func addEmailIn(x *plugintest.Env, b *pt.Browser) func(t *testing.T, addr, password string) *pt.Page {
	return func(t *testing.T, addr, password string) *pt.Page {
		t.Helper()
		form := mustPage(t, b.Get(x.Server.URL+"/security-info/add/email?lang=de"), `id="address"`)
		res := b.Submit(form, `form[action="/security-info/add/email"]`, map[string]string{"address": addr, "current_password": password})
		if res.Page == nil {
			t.Fatalf("no page: %s", res)
		}
		return res.Page
	}
}

// TestFirstMethodRefusalsInGerman: the first method of an account is
// added with the password instead of a step-up; its refusals come in
// German too, on their own account (the wrong tries pause recovery).
func TestFirstMethodRefusalsInGerman(t *testing.T) {
	de, _ := i18n.For("de")
	en := i18n.English()
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "US", "email")
		b := x.SignIn(t)
		addEmail := addEmailIn(x, b)
		t.Run("first-method-wrong-password", func(t *testing.T) {
			page := addEmail(t, "new@example.net", "not it")
			checkRefusal(t, page, de.T("securityinfo.password.wrong"), en.T("securityinfo.password.wrong"), "#current-password")
		})
		// A code cannot expire on this page (the fresh sign-in or step-up
		// ends with it), but it dies of too many wrong tries.
		t.Run("code-dead", func(t *testing.T) {
			page := addEmail(t, "new@example.net", pt.Password)
			dead := de.T("verify.error.dead")
			for range 6 {
				if page.Text("#add-error") == dead {
					break
				}
				if page.Doc.Find("#code").Length() == 0 {
					t.Fatalf("no code field:\n%s", page.Body)
				}
				page = mustPage(t, b.Submit(page, "form", map[string]string{"code": "00000000"}), "<h1")
			}
			checkRefusal(t, page, dead, en.T("verify.error.dead"), "#address")
		})

	})
}

// checkRefusal: p shows want (not english) as its error, and the control
// matched by sel is described by it and marked invalid.
func checkRefusal(t *testing.T, p *pt.Page, want, english, sel string) {
	t.Helper()
	if want == english {
		t.Fatalf("the German is the English: %q", want)
	}
	got := strings.TrimSpace(html.UnescapeString(p.Text("#add-error")))
	if got != want {
		t.Fatalf("error %q, want %q\n%s", got, want, p.Body)
	}
	if strings.Contains(p.Body, english) || strings.Contains(html.UnescapeString(p.Body), english) {
		t.Errorf("the English %q is on the page", english)
	}
	ctl := p.Doc.Find(sel)
	if ctl.Length() == 0 {
		t.Fatalf("no control %s on the page", sel)
	}
	for i := range ctl.Length() {
		c := ctl.Eq(i)
		if d := c.AttrOr("aria-describedby", ""); !strings.Contains(" "+d+" ", " add-error ") {
			t.Errorf("%s is not described by the error: aria-describedby=%q", sel, d)
		}
		if c.AttrOr("aria-invalid", "") != "true" {
			t.Errorf("%s is not marked aria-invalid", sel)
		}
	}
	if n := p.Doc.Find(`[aria-describedby~="add-error"]`).Not(sel).Length(); n != 0 {
		t.Errorf("%d other controls are tied to the error", n)
	}
}
