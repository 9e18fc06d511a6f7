package push_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/plugin/method/push"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// The web app in German and in Arabic, as a phone set to that language
// sees it (the language picker's cookie; the computer stays English): its
// empty state, the pairing and a sign-in request approved with the
// number leave no English on the screen, and Arabic runs right to left.
// The service worker's notification is in that language too.
func TestBrowserAuthenticatorLanguages(t *testing.T) {
	// axe-core checks the screens too where it is at hand (always in CI).
	axe := ""
	if os.Getenv(chrometest.AxeEnv) != "" || chrometest.Required() {
		axe = chrometest.Axe(t)
	}
	for _, lang := range []string{"de", "ar"} {
		t.Run(lang, func(t *testing.T) {
			l, _ := i18n.For(lang)
			msg := l.Script("authenticator")
			x, b := startBrowser(t)
			computer, phone := b.NewDevice(), b.NewDevice()
			// What the screen may show untranslated: the data (account,
			// server, the relying party's name), and what is the same in
			// every language.
			data := []string{pt.Username, strings.TrimPrefix(x.Server.URL, "https://"), "Web App"}
			noEnglish := func(screen string) {
				t.Helper()
				shown := chrometest.Eval[string](phone, `document.title + "\n" + document.body.innerText`)
				if left := englishIn(shown, l, data); len(left) > 0 {
					t.Errorf("%s in %s shows English: %q\nscreen:\n%s", screen, lang, left, shown)
				}
			}

			// The empty state, the picker's link once (then its cookie).
			phone.Go(x.Server.URL + push.EnrollPath + "?lang=" + lang)
			phone.WaitText("#requests", msg["authenticator.requests.empty"])
			phone.ClickText("summary", msg["authenticator.codes.add"])
			phone.WaitText("#codes", msg["authenticator.codes.submit"])
			dir := chrometest.Eval[string](phone, `document.documentElement.lang + " " + document.documentElement.dir + " " +
				getComputedStyle(document.querySelector("main")).direction`)
			if want := lang + " " + l.Dir() + " " + l.Dir(); dir != want {
				t.Errorf("<html lang dir> and the layout: %q, want %q", dir, want)
			}
			noEnglish("the empty state")
			if v := axeOn(phone, axe); len(v) > 0 {
				t.Errorf("axe-core on the empty state in %s: %v", lang, v)
			}

			// Pairing: the QR code's link on the phone, its pairing code
			// typed on the computer.
			securityInfo(x, computer)
			computer.WaitText("main", "Add sign-in method")
			computer.ClickText("a", "Latchkey Authenticator")
			computer.WaitText("h1", "Add Latchkey Authenticator")
			computer.Type("#current-password", pt.Password)
			computer.ClickText("button", "Next")
			computer.WaitText("main", "Enter the pairing code the app shows")
			phone.Go(computer.Attr(`a[href*="#enroll="]`, "href"))
			phone.WaitText("#enroll h1", msg["authenticator.enroll.title"])
			phone.WaitText("#enroll", strings.TrimPrefix(x.Server.URL, "https://"))
			noEnglish("the enrollment")
			// The picker keeps the link's token (in the fragment, never
			// sent): picking a language goes on with the enrollment.
			phone.ClickText("nav.languages a", langName(lang))
			phone.WaitURL(x.Server.URL + push.EnrollPath + "?lang=" + lang + "#enroll=")
			phone.WaitText("#enroll h1", msg["authenticator.enroll.title"])
			phone.Click("#enroll-go")
			before, _, _ := strings.Cut(msg["authenticator.enroll.pairing"], "{{.Code}}")
			code := regexp.MustCompile(`\d{6}`).FindString(phone.WaitText("#message", before))
			if code == "" {
				t.Fatalf("no pairing code in %q", phone.Text("#message"))
			}
			phone.WaitText("#devices-list", l.T("authenticator.devices.item", "Account", pt.Username,
				"Server", strings.TrimPrefix(x.Server.URL, "https://")))
			noEnglish("the pairing code")
			computer.Type("#code", code)
			computer.ClickText("button", "Next")
			// The device's suggested name is in the phone's language.
			computer.WaitText("main", "Latchkey Authenticator ("+msg["authenticator.enroll.name_browser"]+")")
			phone.WaitText("#message", l.T("authenticator.enroll.paired", "Account", pt.Username))
			noEnglish("the paired device")

			// A sign-in request, approved with the number of the page.
			signin := b.NewDevice()
			number := recoverByPush(t, x, signin)
			phone.WaitText(".request", msg["authenticator.request.number"])
			rows := chrometest.Eval[string](phone, `Array.from(document.querySelectorAll(".request dt")).map(function (dt) {
				return dt.innerText + "=" + dt.nextElementSibling.innerText; }).join("|")`)
			for _, row := range []string{msg["authenticator.request.account"] + "=" + pt.Username,
				msg["authenticator.request.app"] + "=Web App",
				msg["authenticator.request.from"] + "=" + msg["authenticator.request.place_internal"]} {
				if !strings.Contains(rows, row) {
					t.Errorf("the request shows %q, without %q", rows, row)
				}
			}
			phone.ClickText(".request button", msg["authenticator.request.approve"])
			phone.WaitText("#message", msg["authenticator.request.need_number"])
			noEnglish("the request")
			if v := axeOn(phone, axe); len(v) > 0 {
				t.Errorf("axe-core on the request in %s: %v", lang, v)
			}
			phone.Type(".request input", number)
			phone.ClickText(".request button", msg["authenticator.request.approve"])
			phone.WaitText(".request", msg["authenticator.request.approved"])
			noEnglish("the approved request")
			signin.WaitText("h1", "Choose a new password")

			// The service worker's notification, woken by a push as on a
			// phone with the app closed, speaks the language too.
			phone.DeliverPush(x.Server.URL+push.EnrollPath, `{"app":"Web App","id":"n1"}`)
			var shown string
			phone.WaitFor("the notification", func() bool {
				shown = chrometest.Eval[string](phone, `navigator.serviceWorker.ready.then(function (r) { return r.getNotifications(); })
					.then(function (ns) { return ns.map(function (n) { return [n.title, n.body, n.lang, n.dir].join("|"); }).join("\n"); })`)
				return shown != ""
			})
			if want := strings.Join([]string{msg["authenticator.notify.title"], l.T("authenticator.notify.body", "App", "Web App"),
				lang, l.Dir()}, "|"); shown != want {
				t.Errorf("the notification is %q, want %q", shown, want)
			}

			computer.NoProblems()
			phone.NoProblems()
			signin.NoProblems()
		})
	}
}

// axeOn lists axe-core's violations on tab's page; none without axe.
func axeOn(tab *chrometest.Tab, axe string) []chrometest.Violation {
	if axe == "" {
		return nil
	}
	return tab.AxeViolations(axe)
}

func langName(tag string) string {
	for _, l := range i18n.Languages() {
		if l.Tag == tag {
			return l.Name
		}
	}
	return tag
}

var (
	placeholderRE = regexp.MustCompile(`\{\{\s*\.[A-Za-z0-9_]+\s*\}\}`)
	latinRE       = regexp.MustCompile(`[A-Za-z]{3,}`)
)

// englishIn returns the English of the web app's catalog that screen
// shows although l translates it differently (its pieces between
// placeholders, as whole words the language itself does not use), and, in a language not written in Latin
// letters, any Latin word but data, the brand, language names and
// technical terms.
func englishIn(screen string, l *i18n.Localizer, data []string) []string {
	for _, d := range data {
		screen = strings.ReplaceAll(screen, d, " ")
	}
	var left []string
	translated := l.Script("authenticator")
	var own strings.Builder // every text of the language: a word it uses too ("App") is no sign of English
	for _, s := range translated {
		own.WriteString(s + "\n")
	}
	for id, en := range i18n.English().Script("authenticator") {
		if translated[id] == en {
			continue
		}
		for _, piece := range placeholderRE.Split(en, -1) {
			piece = strings.Trim(piece, " .,:;()\"")
			word := regexp.MustCompile(`(^|[^\p{L}-])` + regexp.QuoteMeta(piece) + `($|[^\p{L}-])`)
			if len(piece) < 2 || word.MatchString(own.String()) {
				continue
			}
			if word.MatchString(screen) {
				left = append(left, piece)
			}
		}
	}
	if l.Lang() == "ja" || l.Lang() == "ar" {
		rest := screen
		keep := []string{"Latchkey Authenticator", "Latchkey", "otpauth://", "TOTP", "QR", "https", "WebCrypto", "JavaScript", "base32"}
		for _, lang := range i18n.Languages() {
			keep = append(keep, lang.Name)
		}
		for _, k := range keep {
			rest = strings.ReplaceAll(rest, k, " ")
		}
		left = append(left, latinRE.FindAllString(rest, -1)...)
	}
	return left
}
