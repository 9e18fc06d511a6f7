package journeys_test

import (
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
)

// TestBrowserChangePasswordSignOutChoice: in Chromium, the change-password
// page offers "Sign out of all other sessions" checked, labelled and
// described, passes axe, contrast and the narrow widths, and after the
// change (box as it came) this browser is still signed in.
func TestBrowserChangePasswordSignOutChoice(t *testing.T) {
	axe := chrometest.Axe(t)
	x := plugintest.Start(t, dbtest.URL(t, dbtest.SQLite), plugintest.Options{Methods: []string{"totp", "email"}})
	b := chrometest.Start(t, chrometest.Trust(x.Server.HTTP.Certificate()))
	tab := b.NewDevice()
	tab.NoCache()
	tab.AlwaysFocused()
	w := &walker{checker: checker{axe: axe, seen: map[string]bool{}}, t: t, tab: tab}
	tab.Viewport(1280, 900, false)

	rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
	tab.Go(rp.Start().URL)
	tab.WaitText("h1", "Sign in")
	tab.Type("#username", pt.Username)
	tab.Type("#password", pt.Password)
	tab.ClickText("button", "Sign in")
	tab.WaitURL(pt.WebRedirect + "?")

	tab.Go(x.Server.URL + "/security-info/password")
	tab.WaitText("h1", "Change password")
	w.visit("security-info-password")
	box := `input[name="signout_others"]`
	if !chrometest.Eval[bool](tab, `document.querySelector('`+box+`').checked`) {
		t.Error(`"Sign out of all other sessions" is not checked by default`)
	}
	if got := chrometest.Eval[string](tab, `document.querySelector('`+box+`').closest("label").textContent.trim()`); got != "Sign out of all other sessions" {
		t.Errorf("the box is labelled %q", got)
	}
	if hint := tab.Attr(box, "aria-describedby"); hint == "" || tab.Text("#"+hint) == "" {
		t.Error("the box is not described by its hint")
	}
	tab.Type("#current-password", pt.Password)
	tab.Type("#password", plugintest.NewPassword)
	tab.Type("#confirm", plugintest.NewPassword)
	tab.ClickText("button", "Change password")
	tab.WaitText("h1", "Your password was changed")
	w.visit("security-info-password-done")
	tab.ClickText("a", "Back to Security info")
	tab.WaitFor("Security info, still signed in", func() bool {
		h := tab.Text("h1")
		return h != "" && h != "Sign in"
	})
	tab.Go(x.Server.URL + "/security-info/password")
	tab.WaitText("h1", "Change password")
	t.Logf("page costs:\n  %s", strings.Join(w.costs, "\n  "))
	tab.NoProblems()
}
