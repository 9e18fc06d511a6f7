package plugin_test

import (
	"net/url"
	"slices"
	"testing"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
)

// homeAddr is the email address the recovery tests register for the
// test user.
const homeAddr = "alice.home@example.net"

// browserRecovery is where the recoveries walked in headless Chromium
// start: startE2E on SQLite with homeAddr registered, and a fresh device
// of a browser that trusts the server.
func browserRecovery(t *testing.T) (*plugintest.Env, *chrometest.Tab) {
	t.Helper()
	x := startE2E(t, dbtest.URL(t, dbtest.SQLite))
	x.EnrollEmail(t, homeAddr)
	return x, chrometest.Start(t, chrometest.Trust(x.Server.HTTP.Certificate())).NewDevice()
}

// The recovery pages in a real headless Chromium, clicked and typed
// through as a user does, with their scripts (recover.js) under the
// server's strict CSP: any CSP violation or script error fails the test.
// From the app's sign-in page to a new password and back to the app with
// a code the app can redeem.
func TestBrowserRecoverByEmail(t *testing.T) {
	x, tab := browserRecovery(t)
	rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
	a := rp.Start()

	plugintest.OpenRecoveryInTab(tab, a.URL)
	tab.WaitFor("the CAPTCHA picture", func() bool {
		return chrometest.Eval[bool](tab, `(function(){var i=document.querySelector("main img");return !!i&&i.complete&&i.naturalWidth>0})()`)
	})
	x.RecoverInTab(tab)
	tab.ClickText("label", "a•••e@example.net")
	tab.ClickText("button", "Next")
	tab.WaitText("main", "We sent a code by email to")
	tab.Type("#code", x.MailCode(t, homeAddr))
	tab.ClickText("button", "Verify")
	tab.WaitText("h1", "Choose a new password")

	// recover.js: the strength meter asks the server as the user types,
	// and "Show password" shows both fields.
	tab.Type("#password", newPW)
	tab.WaitFor("the strength meter to rate the passphrase", func() bool {
		return chrometest.Eval[float64](tab, `document.getElementById("strength").value`) >= 3
	})
	tab.Type("#confirm", newPW)
	tab.ClickText("label", "Show password")
	if types := chrometest.Eval[string](tab, `document.getElementById("password").type+" "+document.getElementById("confirm").type`); types != "text text" {
		t.Errorf("after Show password the fields are %q", types)
	}
	tab.ClickText("button", "Change password")
	tab.WaitText("h1", "Your password was changed")
	tab.ClickText("a", "Continue to Web App")

	back, err := url.Parse(tab.WaitURL(pt.WebRedirect + "?"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := rp.Exchange(t.Context(), a, rp.Callback(a, &pt.Result{Redirect: back}).Get("code"))
	if err != nil {
		t.Fatalf("the app could not redeem its code: %v", err)
	}
	var claims struct {
		AMR []string `json:"amr"`
	}
	if err := tok.IDToken.Claims(&claims); err != nil || !slices.Equal(claims.AMR, []string{"otp"}) {
		t.Errorf("amr %v (%v), want [otp]", claims.AMR, err)
	}
	if _, err := x.Server.Users.Authenticate(t.Context(), pt.Username, newPW); err != nil {
		t.Errorf("the new password does not sign in: %v", err)
	}
	tab.NoProblems()
}
