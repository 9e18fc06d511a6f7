package push_test

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
)

// The browser tests run the Latchkey Authenticator web app and the
// sign-in pages in a real headless Chromium against the real server
// (SQLite only: the database is not what they test). They assert on what
// the user sees.

func startBrowser(t *testing.T) (*e2e, *chrometest.Browser) {
	x := startE2E(t, dbtest.URL(t, dbtest.SQLite))
	return x, chrometest.Start(t, chrometest.Trust(x.Server.HTTP.Certificate()))
}

var pairingRE = regexp.MustCompile(`Pairing code: (\d+)\.`)

// enrollInBrowser adds the web app on phone as a push device, the way a
// user does: sign in on the computer, Security info, add the
// authenticator, open the QR code's link on the phone, make the key there
// and type the pairing code it shows on the computer.
func enrollInBrowser(t *testing.T, x *e2e, computer, phone *chrometest.Tab) {
	t.Helper()
	securityInfo(x, computer)
	computer.WaitText("main", "Add sign-in method")
	computer.ClickText("a", "Latchkey Authenticator")
	computer.WaitText("h1", "Add Latchkey Authenticator")
	// The account's first method: the page asks for the password too.
	computer.Type("#current-password", pt.Password)
	computer.ClickText("button", "Next")
	computer.WaitText("main", "Enter the pairing code the app shows")
	link := computer.Attr(`a[href*="#enroll="]`, "href")

	phone.Go(link)
	phone.WaitText("#enroll", "Add this device")
	if host := phone.Text("#enroll-server"); !strings.HasPrefix(x.Server.URL, "https://"+host) {
		t.Errorf("the app names the server %q, want the host of %s", host, x.Server.URL)
	}
	phone.ClickText("button", "Add this device")
	m := pairingRE.FindStringSubmatch(phone.WaitText("#message", "Pairing code"))
	if m == nil {
		t.Fatalf("no pairing code in %q", phone.Text("#message"))
	}
	if !strings.Contains(phone.Text("#message"), "for "+pt.Username) {
		t.Errorf("the pairing message does not name the account: %q", phone.Text("#message"))
	}
	phone.WaitText("#devices-list", pt.Username+" at ")
	if !strings.Contains(phone.URL(), "/static/authenticator/") || strings.Contains(phone.URL(), "enroll=") {
		t.Errorf("after enrolling the app still shows the link: %s", phone.URL())
	}

	computer.Type("#code", m[1])
	computer.ClickText("button", "Next")
	computer.WaitText("main", "Latchkey Authenticator (Web browser)")
	// The app learns it is paired at its next poll and says so.
	phone.WaitText("#message", "This device is paired: sign-in requests for "+pt.Username+" appear here.")
}

// securityInfo opens Security info on tab, signing in on the way: the
// sign-in page comes back to it (next=/security-info).
func securityInfo(x *e2e, tab *chrometest.Tab) {
	tab.Go(x.Server.URL + "/security-info")
	tab.WaitText("h1", "Sign in")
	tab.Type("#username", pt.Username)
	tab.Type("#password", pt.Password)
	tab.ClickText("button", "Sign in")
	tab.WaitURL(x.Server.URL + "/security-info")
}

// recoverByPush starts a recovery on tab the way a user does (the app's
// sign-in page, "Can't access your account?", name and CAPTCHA, "I forgot
// my password", the push) and returns the number the waiting page shows.
func recoverByPush(t *testing.T, x *e2e, tab *chrometest.Tab) string {
	t.Helper()
	rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
	plugintest.OpenRecoveryInTab(tab, rp.Start().URL)
	x.RecoverInTab(tab)
	tab.ClickText("label", "notification")
	tab.ClickText("button", "Next")
	tab.WaitText("main", "type this number there to approve")
	number := strings.TrimSpace(tab.Text(".push-number"))
	if !regexp.MustCompile(`^\d{2}$`).MatchString(number) {
		t.Fatalf("the waiting page shows %q, not a two-digit number", number)
	}
	return number
}

// request waits for the web app to show a sign-in request and returns
// its rows (Account, App, Time, From) as the user reads them.
func request(t *testing.T, phone *chrometest.Tab) map[string]string {
	t.Helper()
	phone.WaitText(".request", "Type the number shown on the sign-in page")
	rows := chrometest.Eval[[][]string](phone, `Array.from(document.querySelectorAll(".request:first-child dt")).map(function (dt) {
		return [dt.innerText, dt.nextElementSibling.innerText];
	})`)
	out := map[string]string{}
	for _, r := range rows {
		out[r[0]] = r[1]
	}
	return out
}

// The issue 4 story in a real browser: the web app enrolls through the
// QR link and pairing code, shows each sign-in request with app, time
// and place, and the number typed there decides it. The sign-in page
// (wait.js) moves on by itself; a wrong number, "Deny" and "Deny, and
// report it" fail the recovery; the report is in the audit log.
func TestBrowserAuthenticator(t *testing.T) {
	x, b := startBrowser(t)
	computer, phone := b.NewDevice(), b.NewDevice()
	enrollInBrowser(t, x, computer, phone)
	ctx := t.Context()

	stepped := b.NewDevice() // a new session, stepped up below

	// Security info asks for a step-up now that a method exists; the
	// push page there moves on by itself too.
	t.Run("step-up-on-security-info", func(t *testing.T) {
		phone, computer := phone.With(t), stepped.With(t)
		securityInfo(x, computer)
		computer.WaitText("main", "Before you view or change your security info")
		computer.ClickText("label", "notification")
		computer.ClickText("button", "Next")
		computer.WaitText("main", "Type this number in your Latchkey Authenticator to approve")
		number := strings.TrimSpace(computer.Text("form strong"))
		request(t, phone)
		phone.Type(".request input", number)
		phone.ClickText(".request button", "Approve")
		phone.WaitText(".request", "Approved. The sign-in page continues by itself.")
		computer.WaitText("main", "Add sign-in method")
	})

	t.Run("approve-with-the-number", func(t *testing.T) {
		phone := phone.With(t)
		signin := b.NewDevice().With(t)
		before := time.Now().UTC().Truncate(time.Second)
		number := recoverByPush(t, x, signin)
		rows := request(t, phone)
		after := time.Now().UTC()
		// The app is the relying party's name: the provider, presented
		// as cmd does (plugintest.SignIn), names it (plugin.AppNamer).
		const app = "Web App"
		if rows["Account"] != pt.Username || rows["App"] != app || rows["From"] != "Internal network" {
			t.Errorf("the request shows %v, want account %s, app %s, from Internal network", rows, pt.Username, app)
		}
		// The browser runs in UTC with en-US (chrometest), so the time
		// reads like 11/27/2026, 3:04:05 AM.
		// Newer ICU puts a narrow no-break space before AM/PM.
		shown, err := time.Parse("1/2/2006, 3:04:05 PM", strings.NewReplacer("\u202f", " ", "\u00a0", " ").Replace(rows["Time"]))
		if err != nil || shown.Before(before) || shown.After(after) {
			t.Errorf("the request's time %q (%v) is not between %v and %v", rows["Time"], err, before, after)
		}
		phone.Type(".request input", number)
		phone.ClickText(".request button", "Approve")
		phone.WaitText(".request", "Approved. The sign-in page continues by itself.")
		// No click here: wait.js notices the approval and submits.
		signin.WaitText("h1", "Choose a new password")
		signin.NoProblems()
	})

	for _, tt := range []struct {
		name, button, typed, phoneSays string
		event                          string
	}{
		{"wrong-number", "Approve", "wrong", "That was not the number on the sign-in page", push.EventWrong},
		{"deny", "Deny", "", "Denied.", push.EventDenied},
		{"deny-and-report", "Deny, and report it", "", "Denied and reported. Your administrator can see the report.", push.EventFraud},
	} {
		t.Run(tt.name, func(t *testing.T) {
			phone := phone.With(t)
			signin := b.NewDevice().With(t)
			number := recoverByPush(t, x, signin)
			failures := func() int {
				evs, err := x.Server.Audit.List(ctx, audit.Filter{UserID: x.Server.User.ID, Type: audit.MethodFailed})
				if err != nil {
					t.Fatal(err)
				}
				return len(evs)
			}
			before := failures()
			request(t, phone)
			if tt.typed == "wrong" {
				phone.Type(".request input", wrongNumber(number))
			}
			phone.ClickText(".request button", tt.button)
			phone.WaitText(".request", tt.phoneSays)
			// The page moves on by itself, to the refusal and not to a new
			// password; it counts one failure, once (wait.js polls every 2 s).
			signin.WaitText("main", "Choose a method to try again.")
			time.Sleep(5 * time.Second)
			if page := signin.Text("main"); strings.Contains(page, "Choose a new password") || strings.Contains(page, "Recovery is paused") {
				t.Fatalf("after %s the page shows:\n%s", tt.name, page)
			}
			if n := failures(); n != before+1 {
				t.Errorf("one refused push counted %d failures", n-before)
			}
			signin.NoProblems()
			evs, err := x.Server.Audit.List(ctx, audit.Filter{UserID: x.Server.User.ID, Type: tt.event})
			if err != nil || len(evs) != 1 {
				t.Fatalf("%s audit events: %+v, %v", tt.event, evs, err)
			}
		})
	}

	// Deleted on Security info, the device is refused; the app says so
	// when it next asks (here: opened again), instead of waiting as a
	// device still to be paired would.
	t.Run("removed-on-security-info", func(t *testing.T) {
		phone, computer := phone.With(t), stepped.With(t)
		computer.Go(x.Server.URL + "/security-info")
		computer.ClickText("li a", "Delete")
		computer.WaitText("h1", "Delete this method?")
		computer.ClickText("form button", "Delete")
		computer.WaitText(".notice", "Method deleted.")
		computer.WaitFor("the device to leave the list", func() bool {
			return !strings.Contains(computer.Text("ul.methods"), "(Web browser)")
		})
		phone.Reload()
		phone.WaitText("#message", "The server no longer accepts this device")
	})

	// Added again on the same browser: the stale device's refusal marks
	// its own row and never replaces the new pairing code, so the app goes
	// on to say the new device is paired.
	t.Run("re-added-keeps-the-pairing-code", func(t *testing.T) {
		phone, computer := phone.With(t), stepped.With(t)
		computer.Go(x.Server.URL + "/security-info/add/push")
		computer.WaitText("h1", "Add Latchkey Authenticator")
		if chrometest.Eval[bool](computer, `!!document.getElementById("current-password")`) {
			computer.Type("#current-password", pt.Password)
		}
		computer.ClickText("button", "Next")
		computer.WaitText("main", "Enter the pairing code the app shows")
		if strings.Contains(computer.Text("main"), "latchkey authenticator") {
			t.Errorf("the enrolment page sends people to a command-line tool: %s", computer.Text("main"))
		}
		link := computer.Attr(`a[href*="#enroll="]`, "href")
		phone.Go("about:blank")
		phone.Go(link)
		phone.WaitText("#enroll", "Add this device")
		phone.ClickText("button", "Add this device")
		m := pairingRE.FindStringSubmatch(phone.WaitText("#message", "Pairing code"))
		if m == nil {
			t.Fatalf("no pairing code in %q", phone.Text("#message"))
		}
		phone.WaitText("#devices-list", "no longer accepted by the server")
		computer.Type("#code", m[1])
		computer.ClickText("button", "Next")
		computer.WaitText(".notice", "Method added.")
		phone.WaitText("#message", "This device is paired")
	})
	computer.NoProblems()
	stepped.NoProblems()
	phone.NoProblems()
}

// The web app's authenticator-app codes: an otpauth:// link (the one
// Security info shows, and others with SHA-256, 8 digits, 60 s) or a bare
// secret pasted into the app gives the code Go computes for that secret
// now; links it cannot use get a clear message.
func TestBrowserTOTPCodes(t *testing.T) {
	x, b := startBrowser(t)
	ctx := t.Context()
	u := x.Server.User
	p, err := totp.New(x.Store, x.Server.Keyring, "Latchkey").Begin(ctx, "browser-flow", method.Ref{ID: u.ID, Username: u.Username}, nil)
	if err != nil {
		t.Fatal(err)
	}
	secret := func() string {
		raw := make([]byte, 20)
		rand.Read(raw)
		return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw)
	}
	s256, bare := secret(), secret()
	// The bare secret as apps often show it: in groups of four.
	var grouped []string
	for i := 0; i < len(bare); i += 4 {
		grouped = append(grouped, bare[i:min(i+4, len(bare))])
	}
	sha1Six := pqtotp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

	app := b.NewTab() // the default profile: an incognito one cannot install apps
	app.Go(x.Server.URL + push.EnrollPath)
	app.WaitText("#codes", "No accounts yet.")
	app.ClickText("summary", "Add an account")
	for _, tt := range []struct {
		name, paste, account string
		shows                string // the account as the list shows it
		secret               string
		opts                 pqtotp.ValidateOpts
	}{
		{"security-info-link", p.Prompt.OTPAuthURI, "", "Latchkey: " + pt.Username, p.Prompt.Secret, sha1Six},
		{"sha256-eight-digits-sixty-seconds", "otpauth://totp/Example:bob%40example.com?secret=" + s256 +
			"&issuer=Example&algorithm=SHA256&digits=8&period=60", "", "Example: bob@example.com", s256,
			pqtotp.ValidateOpts{Period: 60, Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA256}},
		{"bare-secret", strings.ToLower(strings.Join(grouped, " ")), "carol", "carol", bare, sha1Six},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app := app.With(t)
			app.Type("#totp-uri", tt.paste)
			if tt.account != "" {
				app.Type("#totp-name", tt.account)
			}
			app.ClickText("button", "Add account")
			app.WaitText("#message", "Account added.")
			app.WaitText("#codes-list", tt.shows)
			// The list is redrawn every second; read the code when no
			// time step starts between just before and just after.
			for range 5 {
				t0 := time.Now().Add(-2 * time.Second)
				shown := chrometest.Eval[string](app, fmt.Sprintf(`(function () {
					var li = Array.from(document.querySelectorAll("#codes-list li")).find(function (li) { return li.firstChild.innerText === %q; });
					return li ? li.querySelector(".code").innerText : "";
				})()`, tt.shows))
				t1 := time.Now()
				want0, err0 := pqtotp.GenerateCodeCustom(tt.secret, t0, tt.opts)
				want1, err1 := pqtotp.GenerateCodeCustom(tt.secret, t1, tt.opts)
				if err0 != nil || err1 != nil {
					t.Fatal(err0, err1)
				}
				if want0 != want1 {
					time.Sleep(2 * time.Second)
					continue
				}
				if shown != want1 {
					t.Fatalf("the app shows %q for %s, Go computes %q", shown, tt.shows, want1)
				}
				return
			}
			t.Fatalf("could not read a code between two time steps")
		})
	}

	t.Run("unusable-input", func(t *testing.T) {
		app := app.With(t)
		for _, tt := range []struct{ paste, says string }{
			{"otpauth://hotp/Example:bob?secret=" + s256 + "&counter=1", "Only time-based (TOTP) accounts are supported."},
			{"not base32 at all!", "The secret is not valid base32."},
			{"otpauth://totp/Example:bob?secret=" + s256 + "&digits=12", "Unsupported account settings."},
		} {
			app.Clear("#totp-uri")
			app.Type("#totp-uri", tt.paste)
			app.ClickText("button", "Add account")
			if got := app.WaitText("#message", tt.says); chrometest.Eval[string](app, `document.getElementById("message").className`) != "error" {
				t.Errorf("%q: message %q is not shown as an error", tt.paste, got)
			}
		}
	})

	// The service worker keeps the app shell: with the server gone the
	// app still opens and shows the codes (the keys are in IndexedDB).
	t.Run("installable-and-offline", func(t *testing.T) {
		app := app.With(t)
		if errs := app.InstallabilityErrors(); len(errs) > 0 {
			t.Errorf("the web app is not installable: %v", errs)
		}
		app.WaitFor("the service worker to control the app", func() bool {
			return chrometest.Eval[bool](app, `navigator.serviceWorker.ready.then(function () { return !!navigator.serviceWorker.controller; })`)
		})
		x.Server.HTTP.Close()
		app.Reload()
		app.WaitText("#requests h1", "Sign-in requests")
		app.WaitFor("codes while offline", func() bool {
			return regexp.MustCompile(`carol\s+\d{6}\s`).MatchString(app.Text("#codes-list"))
		})
	})
	app.NoProblems()
}
