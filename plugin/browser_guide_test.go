package plugin_test

import (
	"net/url"
	"strings"
	"testing"

	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
)

// TestBrowserRecoverWithoutScripts walks a whole recovery in headless
// Chromium with JavaScript turned off, as a person whose browser blocks
// scripts does: a mistyped name (the list says what was typed and starts
// again keeping the app), Back from the reason page (the name kept),
// "Step N of M" on every page, the code by email, the new password, and
// the confirmation that continues to the app by its name.
func TestBrowserRecoverWithoutScripts(t *testing.T) {
	x, tab := browserRecovery(t)
	tab.WithoutScripts()
	rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
	a := rp.Start()

	plugintest.OpenRecoveryInTab(tab, a.URL)
	step := func(want string) {
		t.Helper()
		if got := strings.TrimSpace(tab.Text("p.step")); got != want {
			t.Errorf("%s: step %q, want %q", tab.Text("h1"), got, want)
		}
	}
	step("Step 1 of 4")
	// A page script would have hidden "Play again" until the audio
	// loads; here it never runs, so the button's hidden attribute stays.
	if chrometest.Eval[bool](tab, `!document.getElementById("captcha-replay").hidden`) {
		t.Error("a script ran: Play again is shown")
	}
	typeStart := func(name string) {
		t.Helper()
		answer := x.SolveID(tab.Attr(`input[name="captcha_id"]`, "value"))
		tab.Clear("#username")
		tab.Type("#username", name)
		tab.Type("#captcha", answer)
		tab.ClickText("button", "Next")
		tab.WaitText("h1", "Why are you having trouble signing in?")
	}

	// A mistyped name reaches a list like any other; the page says what
	// was typed and starts again for the same app.
	typeStart("alcie")
	step("Step 2 of 4")
	tab.ClickText("label", "I forgot my password")
	tab.ClickText("button", "Next")
	tab.WaitText("h1", "Verify it's you")
	step("Step 3 of 4")
	if got := tab.Text("#username-check strong"); got != "alcie" {
		t.Errorf("the list names %q, not what was typed", got)
	}
	tab.ClickText("a", "Start again with another username")
	tab.WaitText("h1", "Get back into your account")
	if got := chrometest.Eval[string](tab, `(document.querySelector('input[name="authRequestID"]')||{}).value||""`); got == "" {
		t.Error("starting again lost the app's request")
	}

	// The right name; Back from the reason keeps it.
	typeStart(pt.Username)
	tab.ClickText("a", "Back")
	tab.WaitText("h1", "Get back into your account")
	if got := chrometest.Eval[string](tab, `document.getElementById("username").value`); got != pt.Username {
		t.Errorf("Back lost the name: %q", got)
	}
	typeStart(pt.Username)
	tab.ClickText("label", "I forgot my password")
	tab.ClickText("button", "Next")
	tab.WaitText("h1", "Verify it's you")
	tab.ClickText("label", "a•••e@example.net")
	tab.ClickText("button", "Next")
	tab.WaitText("h1", "Enter the code from your email")
	step("Step 3 of 4")
	tab.Type("#code", x.MailCode(t, homeAddr))
	tab.ClickText("button", "Verify")
	tab.WaitText("h1", "Choose a new password")
	step("Step 4 of 4")
	tab.Type("#password", newPW)
	tab.Type("#confirm", newPW)
	tab.ClickText("button", "Change password")
	tab.WaitText("h1", "Your password was changed")
	tab.ClickText("a", "Continue to Web App")

	back, err := url.Parse(tab.WaitURL(pt.WebRedirect + "?"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp.Exchange(t.Context(), a, rp.Callback(a, &pt.Result{Redirect: back}).Get("code")); err != nil {
		t.Fatalf("the app could not redeem its code: %v", err)
	}
	tab.NoProblems()
}
