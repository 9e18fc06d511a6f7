package plugin_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/sender/smtp/smtptest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
)

// TestMailOutsideRequestInUsersLanguage: the language a user signs in in
// is remembered, and a notice sent with no request behind it (here a
// method added by an administrator's command, as `latchkey method add`
// sends it) reaches the real SMTP server in that language; with no
// language ever chosen, in the default (English).
func TestMailOutsideRequestInUsersLanguage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before string                  // a page visited before signing in ("" none)
		params []oauth2.AuthCodeOption // of the application's authorization request
		locale string                  // remembered
		want   []string                // in the mail's subject and text
	}{
		{"the-app-asks-for-german", "", []oauth2.AuthCodeOption{pt.Param("ui_locales", "de")}, "de",
			[]string{"Ihrem Konto wurde eine Anmeldemethode hinzugefügt", "die Methode „E-Mail“", "Von: einem Administrator (Befehl latchkey)"}},
		{"japanese-picked-on-a-page", "/security-info?lang=ja", nil, "ja",
			[]string{"アカウントにサインイン方法が追加されました", "管理者 (latchkey コマンド)"}},
		{"nothing-chosen", "", nil, "",
			[]string{"A sign-in method was added to your account", "the method “Email”", "an administrator (latchkey command)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbtestEach(t, func(t *testing.T, dbURL string) {
				x := plugintest.Start(t, dbURL, plugintest.Options{Methods: []string{"totp", "email"}, SMTP: true})
				ctx := t.Context()
				b := x.Server.NewBrowser(t)
				if tc.before != "" {
					b.Get(x.Server.URL + tc.before)
				}
				rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
				a := rp.Start(tc.params...)
				rp.Callback(a, b.SignIn(mustPage(t, b.Get(a.URL), "<form"), pt.Username, pt.Password))
				u, err := x.Server.Users.ByID(ctx, x.Server.User.ID)
				if err != nil {
					t.Fatal(err)
				}
				if u.Locale != tc.locale {
					t.Fatalf("remembered locale %q, want %q", u.Locale, tc.locale)
				}

				// No request: a detached context, as the command has.
				e := method.Enrollment{Method: method.Email, Label: "a•••@example.net"}
				if err := x.Plugin.MethodChanged(context.WithoutCancel(ctx), u.ID, e, true); err != nil {
					t.Fatal(err)
				}
				x.Queue.Wake()
				wait, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				m, err := x.SMTP.WaitMatch(wait, u.Email, func(m smtptest.Message) bool { return strings.Contains(m.Text, "a•••@example.net") })
				if err != nil {
					t.Fatalf("no notice reached the SMTP server: %v", err)
				}
				for _, w := range tc.want {
					if !strings.Contains(m.Subject+"\n"+m.Text, w) {
						t.Errorf("the mail lacks %q:\n%s\n%s", w, m.Subject, m.Text)
					}
				}
			})
		})
	}
}

// TestLocaleWrittenOnlyWhenChanged: pages in the remembered language
// write nothing; a page in another language writes once.
func TestLocaleWrittenOnlyWhenChanged(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAccounts(t, dbURL, nil)
		var writes atomic.Int32
		if err := x.Server.DB.Callback().Update().After("gorm:update").Register("count-locale-writes", func(g *gorm.DB) {
			if strings.Contains(g.Statement.SQL.String(), "`locale`") || strings.Contains(g.Statement.SQL.String(), `"locale"`) {
				writes.Add(1)
			}
		}); err != nil {
			t.Fatal(err)
		}
		b := x.Server.NewBrowser(t)
		b.Get(x.Server.URL + "/security-info?lang=de")
		rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		a := rp.Start()
		rp.Callback(a, b.SignIn(mustPage(t, b.Get(a.URL), "<form"), pt.Username, pt.Password))
		for _, step := range []struct {
			page   string
			writes int32
			locale string
		}{
			{"", 1, "de"}, // the sign-in
			{"/security-info", 1, "de"},
			{"/security-info/password", 1, "de"},
			{"/security-info?lang=fr", 2, "fr"},
			{"/security-info", 2, "fr"},
		} {
			if step.page != "" {
				b.Get(x.Server.URL + step.page)
			}
			u, err := x.Server.Users.ByID(t.Context(), x.Server.User.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := writes.Load(); got != step.writes || u.Locale != step.locale {
				t.Errorf("after %q: %d writes, locale %q; want %d, %q", step.page, got, u.Locale, step.writes, step.locale)
			}
		}
	})
}
