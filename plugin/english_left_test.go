package plugin_test

import (
	"html"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method/totp"

	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// TestNoEnglishLeftInGerman: the texts the handlers word in Go (step-up
// rows, the password policy's reasons, the strength meter's words, the
// recovery's error page) come in the page's language, not in English.
// The methods' refusals are TestRefusalsInGerman's, the mails'
// TestNotificationNamesTheMethodInItsLanguage's.
func TestNoEnglishLeftInGerman(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "US", "totp", "email")
		secret := x.EnrollTOTP(t)
		x.EnrollEmail(t, "alice.home@example.net")
		b := x.SignIn(t)
		de, _ := i18n.For("de")
		check := func(p *pt.Page, what string, want string, english ...string) {
			t.Helper()
			body := html.UnescapeString(p.Text("main"))
			if !strings.Contains(body, want) {
				t.Errorf("%s: no %q in\n%s", what, want, body)
			}
			for _, en := range english {
				if strings.Contains(body, en) {
					t.Errorf("%s: English %q left in\n%s", what, en, body)
				}
			}
		}

		// The step-up list: each row's title from the method catalog.
		up := mustPage(t, b.Get(x.Server.URL+"/security-info?lang=de"), "<h1")
		check(up, "step-up rows", de.T("method.row.email"), "Email a code to", "authenticator app")
		check(up, "step-up rows", de.T("method.row.totp"))

		// A wrong code at step-up, then the right one.
		var app string
		sel := up.Doc.Find(`input[name="enrollment"]`)
		for i := range sel.Length() {
			if strings.Contains(sel.Eq(i).Parent().Text(), de.T("method.row.totp")) {
				app = sel.Eq(i).AttrOr("value", "")
			}
		}
		code := mustPage(t, b.Submit(up, "form", map[string]string{"enrollment": app}), "<h1")
		c, _ := totp.Code(secret, x.Server.Clock.Now())
		x.Server.Clock.Advance(30 * time.Second)
		mustPage(t, b.Submit(code, "form", map[string]string{"code": c}), de.T("securityinfo.page.title"))

		// The password policy's reason inside the translated sentence.
		pw := mustPage(t, b.Get(x.Server.URL+"/security-info/password"), "<h1")
		// The strength meter's words (recover.js has none of its own).
		for _, w := range []string{"weak", "refused", "fair", "strong"} {
			if got, want := pw.Doc.Find("#password").AttrOr("data-word-"+w, ""), de.T("recover.password."+w); got != want {
				t.Errorf("strength word %s: %q, want %q", w, got, want)
			}
		}
		short := mustPage(t, b.Submit(pw, `form[action="/security-info/password"]`,
			map[string]string{"current_password": pt.Password, "password": "short", "confirm": "short"}), "<h1")
		check(short, "password refused", de.T("common.password.too_short", "Min", 8), "too short", "characters")

		// A recovery step of no flow: the plugin's error page.
		gone := b.Get(x.Server.URL + "/recover/no-such-flow/method")
		if gone.Page == nil {
			t.Fatal("no page for an unknown flow")
		}
		check(gone.Page, "flow error", de.T("recover.flow.title"), "This recovery cannot continue", "Start again")
	})
}
