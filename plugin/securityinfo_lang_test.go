package plugin_test

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/ui/i18n"
)

// TestSecurityInfoLanguages: Security info and its pages come in every
// language of the catalogs, with no message ID left where a translation
// is missing, and the dates written in the page's language.
func TestSecurityInfoLanguages(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "US", "totp", "push", "email", "questions")
		secret := x.EnrollTOTP(t)
		x.EnrollEmail(t, "alice.home@example.net")
		b := x.SignIn(t)
		x.StepUpTOTP(t, b, secret)
		ms, _ := x.Store.List(t.Context(), x.Server.User.ID)
		for _, lang := range i18n.Languages() {
			l, _ := i18n.For(lang.Tag)
			pages := []struct{ path, title string }{
				{"/security-info", l.T("securityinfo.page.title")},
				{"/security-info/password", l.T("securityinfo.password.title")},
				{"/security-info/remove/" + ms[0].ID, l.T("securityinfo.remove.title")},
				{"/security-info/add/app", l.T("securityinfo.addapp.title")},
				{"/security-info/add/questions", l.T("method.add.title", "Title", l.T("method.questions.name"))},
				{"/security-info/add/email", l.T("method.add.title", "Title", l.T("method.email.name"))},
			}
			for _, pg := range pages {
				p := mustPage(t, b.Get(x.Server.URL+pg.path+"?lang="+lang.Tag), "<h1")
				if got := langOf(p); got != lang.Tag {
					t.Errorf("%s in %s: lang %q", pg.path, lang.Tag, got)
				}
				body := html.UnescapeString(p.Body)
				if !strings.Contains(body, pg.title) {
					t.Errorf("%s in %s does not show %q", pg.path, lang.Tag, pg.title)
				}
				if id := messageID.FindString(p.Text("main")); id != "" {
					t.Errorf("%s in %s shows the message ID %q: %s", pg.path, lang.Tag, id, p.Text("main"))
				}
			}
			info := mustPage(t, b.Get(x.Server.URL+"/security-info?lang="+lang.Tag), "<h1")
			if want := l.T("securityinfo.row.added", "Date", l.Date(ms[0].CreatedAt)); !strings.Contains(html.UnescapeString(info.Body), want) {
				t.Errorf("%s: rows do not say %q:\n%s", lang.Tag, want, info.Text("ul.si-rows"))
			}
		}
	})
}

// messageID is what a page shows for a message its catalog lacks.
var messageID = regexp.MustCompile(`\b(securityinfo|method)\.[a-z][a-z_.-]*`)
