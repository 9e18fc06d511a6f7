package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
)

// consoleCells: the console at 1280 px and on a 390 px phone, in English
// and in German, as the other journeys.
var consoleCells = []struct {
	device        string
	width, height int64
	mobile        bool
	lang          string
}{
	{"desktop", 1280, 900, false, "en"},
	{"desktop", 1280, 900, false, "de"},
	{"phone", 390, 844, true, "en"},
	{"phone", 390, 844, true, "de"},
}

// goSnippet reads the issuer and client ID out of the go-oidc snippet.
var (
	snippetIssuer   = regexp.MustCompile(`oidc\.NewProvider\(ctx, "([^"]+)"\)`)
	snippetClientID = regexp.MustCompile(`ClientID:\s+"([^"]+)"`)
)

// TestBrowserConsoleJourney: an admin signs in with two proofs in a real
// Chromium, registers an app, reads its secret, copies its go-oidc
// snippet (by keyboard), and a real relying party (go-oidc) signs in with
// what the page showed; then the secret is regenerated and the app
// deleted. Every page passes axe and fits a phone. LATCHKEY_SCREENSHOTS
// saves each page into docs/screenshots/journeys as console-*.
func TestBrowserConsoleJourney(t *testing.T) {
	consoleJourney(t, "console", true, func(t *testing.T, e *consoleEnv, tab *chrometest.Tab, visit func(name, sel string)) {
		s := e.x.Server
		// Register an app.
		tab.Click("#to-apps")
		visit("apps-empty", "#app-new")
		tab.Click("#app-new")
		visit("app-new", "#app-form")
		tab.Type("#id", "wiki")
		tab.Type("#name", "Team wiki")
		tab.Type("#redirect_uris", "https://wiki.example/callback")
		tab.Click("#app-save")
		visit("app-created", "#secret-value")
		secret := tab.Text("#secret-value")

		// Copy the go-oidc snippet with the keyboard: from the
		// snippet (focusable, so it scrolls by keyboard too) Tab goes
		// to its button, Enter copies, and the page says so.
		chrometest.Eval[bool](tab, `(document.getElementById("snippet-go").focus(),true)`)
		tab.Keys("\t")
		if tab.Focused() != "copy-go" {
			t.Fatalf("Tab never reached the go snippet's copy button (focus on %s)", tab.Focused())
		}
		tab.Keys("\r")
		tab.WaitFor("the copied notice", func() bool { return tab.Holds(`document.getElementById("copy-status").textContent!==""`) })
		snippet := tab.Text("#snippet-go")
		iss, id := snippetIssuer.FindStringSubmatch(snippet), snippetClientID.FindStringSubmatch(snippet)
		if iss == nil || id == nil {
			t.Fatalf("the go snippet lacks issuer or client ID:\n%s", snippet)
		}
		if iss[1] != s.URL || id[1] != "wiki" {
			t.Errorf("the snippet names %s and %s, the server is %s", iss[1], id[1], s.URL)
		}
		rpSignIn(t, s, iss[1], id[1], secret, "https://wiki.example/callback")

		// Regenerate (grace 0: the old secret stops at once).
		tab.Click("#app-regenerate")
		visit("app-secret", "#secret-form")
		tab.Click("#secret-confirm")
		visit("app-regenerated", "#secret-value")
		fresh := tab.Text("#secret-value")
		if fresh == secret || s.OPStore.AuthorizeClientIDSecret(context.Background(), "wiki", secret) == nil {
			t.Error("the old secret still works after a regeneration without grace")
		}
		if err := s.OPStore.AuthorizeClientIDSecret(context.Background(), "wiki", fresh); err != nil {
			t.Errorf("the regenerated secret: %v", err)
		}

		// Delete, after the confirmation.
		tab.Click("#app-delete")
		visit("app-delete", "#delete-form")
		tab.Click("#delete-confirm")
		visit("apps-deleted", "#notice")
		if _, err := s.OPStore.ClientByID(context.Background(), "wiki"); err == nil {
			t.Error("the app is still registered")
		}
	})
}

// consoleJourney walks every cell of consoleCells in Chromium: a fresh
// server, the admin's two-proof sign-in, then walk. visit waits for a
// page, checks its language, axe (desktop in English, phone in German)
// and width, and with LATCHKEY_SCREENSHOTS saves it as <prefix>-<name>;
// the sign-in pages and the home page are saved only with shotSignIn.
func consoleJourney(t *testing.T, prefix string, shotSignIn bool, walk func(t *testing.T, e *consoleEnv, tab *chrometest.Tab, visit func(name, sel string))) {
	axe := chrometest.Axe(t)
	shots := consoleShots(t, prefix)
	tab := chrometest.JourneyTab(t)
	for _, c := range consoleCells {
		t.Run(c.device+"-"+c.lang, func(t *testing.T) {
			e := startConsole(t, dbtest.URL(t, dbtest.SQLite))
			s := e.x.Server
			tab := tab.With(t)
			tab.ClearCookies()
			tab.Language(c.lang)
			tab.Viewport(c.width, c.height, c.mobile)
			seen, signingIn := map[string]bool{}, !shotSignIn
			visit := func(name, sel string) {
				t.Helper()
				tab.WaitFor(name, func() bool {
					return tab.Holds(fmt.Sprintf(`document.readyState==="complete"&&document.querySelector(%q)`, sel))
				})
				if seen[name] {
					return
				}
				seen[name] = true
				if lang := chrometest.Eval[string](tab, "document.documentElement.lang"); lang != c.lang {
					t.Errorf("%s speaks %q, the browser asked for %q", name, lang, c.lang)
				}
				// axe once per device and once per language: the pages are
				// the same markup in every cell.
				if c.device+c.lang == "desktopen" || c.device+c.lang == "phonede" {
					for _, v := range tab.AxeViolations(axe) {
						t.Errorf("%s: axe: %s", name, v)
					}
				}
				if w := chrometest.Eval[[]int](tab, `[document.documentElement.scrollWidth,document.documentElement.clientWidth]`); w[0] > w[1] {
					t.Errorf("%s: at %d px the page is %d px wide", name, c.width, w[0])
				}
				if shots != "" && !signingIn {
					if err := os.WriteFile(filepath.Join(shots, prefix+"-"+name+"-"+c.device+"-"+c.lang+".png"), tab.Screenshot(), 0o644); err != nil { // #nosec G306 -- pictures for the repository
						t.Fatal(err)
					}
				}
			}

			// Sign in: the password, then the authenticator app.
			tab.Go(s.URL + "/admin")
			visit("signin", "#username")
			tab.Type("#username", e.admin.Username)
			tab.Type("#password", pt.Password)
			tab.Click(`form[action="/login"] button[type="submit"]`)
			visit("second-proof", `form[action="/security-info/verify"]`)
			tab.Click(`form[action="/security-info/verify"] button[type="submit"]`)
			visit("second-proof-code", "#code")
			code, _ := totp.Code(e.adminTOTP, s.Clock.Now())
			tab.Type("#code", code)
			tab.Click(`form[action^="/security-info/verify/"] button[type="submit"]`)
			visit("home", "#admin-areas")
			signingIn = false
			walk(t, e, tab, visit)
			if pr := tab.Problems(); len(pr) > 0 {
				t.Errorf("browser console: %s", strings.Join(pr, "; "))
			}
		})
	}
}

// rpSignIn signs the test user in to the app with go-oidc and
// x/oauth2, configured only from what the console showed.
func rpSignIn(t *testing.T, s *pt.Server, issuer, clientID, secret, redirect string) {
	t.Helper()
	if issuer != s.URL {
		t.Fatalf("issuer %s is not the server's", issuer)
	}
	rp := s.NewRP(t, clientID, secret, redirect, "openid", "profile", "email")
	b := s.NewBrowser(t)
	a := rp.Start()
	r := b.Get(a.URL)
	if r.Page == nil {
		t.Fatalf("authorize: %s", r)
	}
	code := rp.Callback(a, b.SignIn(r.Page, pt.Username, pt.Password)).Get("code")
	tok, err := rp.Exchange(t.Context(), a, code)
	if err != nil {
		t.Fatalf("the app's sign-in with the console's values: %v", err)
	}
	if tok.IDToken.Subject != s.User.ID || time.Until(tok.IDToken.Expiry) <= 0 {
		t.Fatalf("ID token: %+v", tok.IDToken)
	}
}

// consoleShots is $LATCHKEY_SCREENSHOTS/journeys (relative to the
// module's root), with the old pictures of prefix removed; "" when
// unset.
func consoleShots(t *testing.T, prefix string) string {
	dir := os.Getenv("LATCHKEY_SCREENSHOTS")
	if dir == "" {
		return ""
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", "..", dir) // cmd/latchkey → the module's root
	}
	dir = filepath.Join(dir, "journeys")
	old, _ := filepath.Glob(filepath.Join(dir, prefix+"-*.png"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	return dir
}
