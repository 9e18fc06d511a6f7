package plugin_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/plugin/sender/smtp/smtptest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
	"github.com/latchkeyid/latchkey/provider/user"
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
			[]string{"Ihrem Konto wurde eine Anmeldemethode hinzugefügt", "die Methode „E-Mail“", "Von: einer Administratorin oder einem Administrator (Befehl latchkey)"}},
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

// TestRecoveryRemembersLocaleOnlyWhenProven: naming an account on the
// recovery pages changes nothing of it (a stranger may type anyone's
// name, and the answer must not differ for real accounts); the language
// is remembered once the recovery has proven the person and finished.
func TestRecoveryRemembersLocaleOnlyWhenProven(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAccounts(t, dbURL, nil)
		ctx := t.Context()
		const home = "alice.home@example.net"
		x.EnrollEmail(t, home)
		if err := x.Server.Users.RememberLocale(ctx, x.Server.User.ID, "", "de"); err != nil {
			t.Fatal(err)
		}
		locale := func() string {
			t.Helper()
			u, err := x.Server.Users.ByID(ctx, x.Server.User.ID)
			if err != nil {
				t.Fatal(err)
			}
			return u.Locale
		}
		b := x.Server.NewBrowser(t)
		b.Get(x.Server.URL + "/recover?lang=en") // English, picked
		methods := x.RecoverStart(t, b, "", pt.Username)
		code := mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "a•••e@example.net")}),
			"We sent a code")
		if got := locale(); got != "de" {
			t.Fatalf("naming the account on the recovery pages changed its language to %q", got)
		}
		pw := mustPage(t, b.Submit(code, `form[action$="/verify"]`, map[string]string{"code": x.MailCode(t, home)}), "new password")
		if got := locale(); got != "de" {
			t.Fatalf("a proof alone changed the language to %q", got)
		}
		mustPage(t, b.Submit(pw, "form", map[string]string{"password": newPW, "confirm": newPW}), "Your password was changed")
		if got := locale(); got != "en" {
			t.Errorf("after the reset the language is %q, want the recovery's en", got)
		}
	})
}

// TestAdminNoticeInEachAdminsLanguage: when an administrator resets their
// password through recovery, every other administrator is told, each in
// their own remembered language, not in the language of the page that
// caused it (that page was not theirs).
func TestAdminNoticeInEachAdminsLanguage(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAccounts(t, dbURL, nil)
		ctx := t.Context()
		const home = "alice.home@example.net"
		x.EnrollEmail(t, home)
		secret := x.EnrollTOTP(t) // administrators recover with two proofs
		users := x.Server.Users
		if err := users.SetAdmin(ctx, x.Server.User.ID, true); err != nil {
			t.Fatal(err)
		}
		admins := []struct{ name, locale, want string }{
			{"kenji", "ja", "管理者のパスワードがリセットされました"},
			{"greta", "de", "Das Passwort eines Administrators wurde zurückgesetzt"},
			{"sam", "", "An administrator's password was reset"},
		}
		for _, a := range admins {
			u, err := users.Create(ctx, user.NewUser{Username: a.name, Email: a.name + "@example.org", Admin: true, Password: "long enough admin passphrase"})
			if err != nil {
				t.Fatal(err)
			}
			if err := users.RememberLocale(ctx, u.ID, "", a.locale); err != nil {
				t.Fatal(err)
			}
		}
		b := x.Server.NewBrowser(t)
		b.Get(x.Server.URL + "/recover?lang=fr") // the page that causes it is French
		start := mustPage(t, b.Get(x.Server.URL+"/recover"), "<form")
		choice := b.Submit(start, `form[action="/recover"]`, map[string]string{"username": pt.Username, "captcha": x.Solve(start)}).Page
		methods := b.Submit(choice, "form", map[string]string{"intent": "reset"}).Page
		code := b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "a•••e@example.net")}).Page
		again := b.Submit(code, `form[action$="/verify"]`, map[string]string{"code": x.MailCode(t, home)}).Page
		code = b.Submit(again, "form", map[string]string{"enrollment": optionFor(t, again, "application d'authentification")}).Page
		totpCode, _ := totp.Code(secret, x.Server.Clock.Now())
		pw := b.Submit(code, `form[action$="/verify"]`, map[string]string{"code": totpCode}).Page
		if res := b.Submit(pw, "form", map[string]string{"password": newPW, "confirm": newPW}); res.Page == nil || res.Page.Status != http.StatusOK {
			t.Fatalf("the reset: %s", res)
		}
		x.Drain(t)
		for _, a := range admins {
			mails := x.Outbox.To(a.name + "@example.org")
			if len(mails) != 1 || mails[0].Subject != a.want {
				t.Errorf("%s (%q) was told %d time(s): %+v, want the subject %q", a.name, a.locale, len(mails), mails, a.want)
			}
		}
		// The user's own notice stays in the language of their page.
		if mails := x.Outbox.To(home); len(mails) == 0 || !strings.Contains(mails[len(mails)-1].Subject, "mot de passe") {
			t.Errorf("the user's own notice is not in French: %+v", mails)
		}
	})
}

// TestReplayedCodeMailInUsersLanguage: a replayed authenticator code may
// be an attacker's, so the warning goes out in the user's remembered
// language, not the one of the page that replayed it; with none
// remembered, in the page's.
func TestReplayedCodeMailInUsersLanguage(t *testing.T) {
	for _, tc := range []struct{ name, locale, want string }{
		{"remembered-german", "de", "Ein Authenticator-Code wurde zweimal verwendet"},
		{"none-remembered", "", "An authenticator code was used twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachEnv(t, func(t *testing.T, e *env) {
				u := e.user("abby", false)
				if err := e.users.RememberLocale(t.Context(), u.ID, "", tc.locale); err != nil {
					t.Fatal(err)
				}
				secret := e.enrollTOTP(u)
				code, _ := totp.Code(secret, e.clock.Now())
				for range 2 {
					b := e.browser()
					fp := b.start("abby", "")
					b.post(fp, url.Values{"intent": {"reset"}})
					b.choose(fp, "authenticator app")
					b.post(fp+"/verify", url.Values{"code": {code}})
				}
				e.drain()
				if m := e.out.To("abby@example.com"); len(m) != 1 || m[0].Subject != tc.want {
					t.Fatalf("replay notification: %+v, want the subject %q", m, tc.want)
				}
			})
		})
	}
}
