package plugin_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
)

// TestBrowserPasswordPageErrors: the new-password page in headless
// Chromium. A refused password names the rule it broke, the error is tied
// to the field (aria-describedby, aria-invalid) and the focus is there,
// and neither password is sent back; the meter says Weak / Fair / Strong
// in an aria-live region; typing an accepted password makes the stale
// error go; a mismatch is tied to the confirmation field.
func TestBrowserPasswordPageErrors(t *testing.T) {
	x, tab := browserRecovery(t)
	tab.Go(x.Server.URL + "/recover")
	tab.WaitText("h1", "Get back into your account")
	x.RecoverInTab(tab)
	tab.ClickText("label", "a•••e@example.net")
	tab.ClickText("button", "Next")
	tab.WaitText("main", "We sent a code by email to")
	tab.Type("#code", x.MailCode(t, homeAddr))
	tab.ClickText("button", "Verify")
	tab.WaitText("h1", "Choose a new password")

	attr := func(sel, name string) string {
		return chrometest.Eval[string](tab, `(function(){var e=document.querySelector("`+sel+`");return e&&e.getAttribute("`+name+`")||""})()`)
	}
	words := func() string { return tab.Text("#strength-words") }
	if live := attr("#strength-words", "aria-live"); live != "polite" {
		t.Errorf("strength words aria-live %q", live)
	}

	tab.Type("#password", "short")
	tab.WaitFor("the meter to say Weak", func() bool { return strings.Contains(words(), "Weak") })
	tab.Type("#confirm", "short")
	tab.Keys("\r")
	tab.WaitText("#password-error", "too short")
	if msg := tab.Text("#password-error"); !strings.Contains(msg, "use at least") || !strings.Contains(msg, "both fields") {
		t.Errorf("error %q does not say which rule failed and what to do", msg)
	}
	tab.WaitFor("the focus in the new password after the error", func() bool { return tab.Focused() == "password" })
	if d := attr("#password", "aria-describedby"); !strings.Contains(d, "password-error") || attr("#password", "aria-invalid") != "true" {
		t.Errorf("error not tied to the field: describedby %q", d)
	}
	if v := chrometest.Eval[string](tab, `document.getElementById("password").value+document.getElementById("confirm").value`); v != "" {
		t.Errorf("a password came back in the page")
	}

	tab.Type("#password", newPW)
	tab.WaitFor("the meter to say Fair or Strong", func() bool {
		w := words()
		return strings.Contains(w, "Strong") || strings.Contains(w, "Fair")
	})
	tab.WaitFor("the stale error to go", func() bool {
		return !chrometest.Eval[bool](tab, `!!document.getElementById("password-error")`)
	})
	if d := attr("#password", "aria-describedby"); strings.Contains(d, "password-error") || attr("#password", "aria-invalid") != "" {
		t.Errorf("the field still points at the gone error: %q", d)
	}

	tab.Type("#confirm", newPW+"x")
	tab.Keys("\r")
	tab.WaitText("#password-error", "did not match")
	if d := attr("#confirm", "aria-describedby"); d != "password-error" || attr("#confirm", "aria-invalid") != "true" {
		t.Errorf("mismatch not tied to the confirmation: %q", d)
	}
	tab.Type("#password", newPW)
	tab.Type("#confirm", newPW)
	tab.ClickText("button", "Change password")
	tab.WaitText("main", "password")
	tab.NoProblems()
}

// TestPasswordPageWithoutScript: without JavaScript the server's message
// is the only word (the meter stays hidden rather than showing 0), and
// the strength answer says whether the policy accepts the password and,
// when not, which rule it breaks.
func TestPasswordPageWithoutScript(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startE2E(t, dbURL)
		const home = "alice.home@example.net"
		x.EnrollEmail(t, home)
		b := x.Server.NewBrowser(t)
		list := x.RecoverStart(t, b, "", pt.Username)
		code := plugintest.MustPage(t, b.Submit(list, "form", map[string]string{"enrollment": plugintest.OptionFor(t, list, "a•••e@example.net")}), "We sent a code")
		pw := plugintest.MustPage(t, b.Submit(code, "form", map[string]string{"code": x.MailCode(t, homeAddr)}), "Choose a new password")
		if _, hidden := pw.Doc.Find("#strength-box").Attr("hidden"); !hidden {
			t.Errorf("the meter shows without JavaScript")
		}
		bad := plugintest.MustPage(t, b.Submit(pw, "form", map[string]string{"password": "aaaaaaaaaaaa", "confirm": "aaaaaaaaaaaa"}), "Choose a new password")
		if msg := bad.Text("#password-error"); !strings.Contains(msg, "same few characters repeated") {
			t.Errorf("error %q does not name the rule", msg)
		}
		if d, _ := bad.Doc.Find("#password").Attr("aria-describedby"); !strings.Contains(d, "password-error") {
			t.Errorf("describedby %q", d)
		}
		if strings.Contains(bad.Body, "aaaaaaaaaaaa") {
			t.Errorf("the refused password is in the page")
		}
		csrf, _ := bad.Doc.Find(`input[name="csrf"]`).Attr("value")
		strength := strings.TrimSuffix(bad.URL.String(), "/password") + "/strength"
		for _, tc := range []struct{ pw, want string }{
			{"aaaaaaaaaaaa", `"ok":false,"reason":"The password is mostly one or two characters`},
			{newPW, `"ok":true`},
		} {
			res := b.Do(http.MethodPost, strength, url.Values{"csrf": {csrf}, "password": {tc.pw}})
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if !strings.Contains(string(body), tc.want) {
				t.Errorf("strength of %q: %s, want %s", tc.pw, body, tc.want)
			}
		}
	})
}
