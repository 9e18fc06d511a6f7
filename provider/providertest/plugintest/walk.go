package plugintest

import (
	"html"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method/totp"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
)

// MustPage is r's page, which must contain contains, in its markup or in
// its text (translated words come HTML-escaped: "it&#39;s").
func MustPage(t testing.TB, r *pt.Result, contains string) *pt.Page {
	t.Helper()
	if r.Page == nil || !(strings.Contains(r.Page.Body, contains) || strings.Contains(html.UnescapeString(r.Page.Body), contains)) {
		body := ""
		if r.Page != nil {
			body = r.Page.Body
		}
		t.Fatalf("want a page containing %q, got %s\n%s", contains, r, body)
	}
	return r.Page
}

// OptionFor is the value of the method row (input name="enrollment")
// whose label contains text.
func OptionFor(t testing.TB, p *pt.Page, text string) string {
	t.Helper()
	var id string
	sel := p.Doc.Find(`input[name="enrollment"]`)
	for i := range sel.Length() {
		in := sel.Eq(i)
		if strings.Contains(in.Parent().Text(), text) {
			id, _ = in.Attr("value")
		}
	}
	if id == "" {
		t.Fatalf("no option %q on\n%s", text, p.Body)
	}
	return id
}

// Solve reads the built-in CAPTCHA of page p from its store, as a person
// reads the picture.
func (x *Env) Solve(p *pt.Page) string {
	id, _ := p.Doc.Find(`input[name="captcha_id"]`).Attr("value")
	return x.SolveID(id)
}

// SolveID is the answer to the CAPTCHA with this id.
func (x *Env) SolveID(id string) string {
	var s strings.Builder
	for _, d := range x.Captcha.Store().Get(id, false) {
		s.WriteByte('0' + d)
	}
	return s.String()
}

// SignIn signs the test user in through the web app and returns the
// browser.
func (x *Env) SignIn(t testing.TB) *pt.Browser {
	t.Helper()
	rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
	b := x.Server.NewBrowser(t)
	if res := b.SignIn(MustPage(t, b.Get(rp.Start().URL), "Sign in"), pt.Username, pt.Password); res.Redirect == nil {
		t.Fatalf("sign-in: %s", res)
	}
	return b
}

// StepUpTOTP passes the step-up of /security-info with the app's code and
// returns the list of methods.
func (x *Env) StepUpTOTP(t testing.TB, b *pt.Browser, secret string) *pt.Page {
	t.Helper()
	info := MustPage(t, b.Get(x.Server.URL+"/security-info"), "Before you view or change your security info")
	if strings.Contains(info.Text("fieldset"), "authenticator app Authenticator app") {
		t.Fatalf("the app's row repeats its name: %s", info.Text("fieldset"))
	}
	code := MustPage(t, b.Submit(info, "form", map[string]string{"enrollment": OptionFor(t, info, "authenticator app")}), "Code")
	c, _ := totp.Code(secret, x.Server.Clock.Now())
	x.Server.Clock.Advance(30 * time.Second)
	return MustPage(t, b.Submit(code, "form", map[string]string{"code": c}), "Add sign-in method")
}

// RecoverPage opens the recovery's start page: from an app's sign-in page
// at startURL through "Can't access your account?", or /recover itself
// when startURL is "".
func (x *Env) RecoverPage(t testing.TB, b *pt.Browser, startURL string) *pt.Page {
	t.Helper()
	if startURL == "" {
		return MustPage(t, b.Get(x.Server.URL+"/recover"), "Get back into your account")
	}
	login := MustPage(t, b.Get(startURL), "Sign in")
	href, ok := login.Doc.Find(`a:contains("Can't access your account?")`).Attr("href")
	if !ok {
		t.Fatalf("no recovery link on the sign-in page:\n%s", login.Body)
	}
	ref, err := url.Parse(href)
	if err != nil {
		t.Fatal(err)
	}
	return MustPage(t, b.Get(login.URL.ResolveReference(ref).String()), "Get back into your account")
}

// Recover goes from the start page through name and CAPTCHA and "I forgot
// my password" to the method page.
func (x *Env) Recover(t testing.TB, b *pt.Browser, start *pt.Page, login string) *pt.Page {
	t.Helper()
	choice := MustPage(t, b.Submit(start, `form[action="/recover"]`, map[string]string{"username": login, "captcha": x.Solve(start)}),
		"I forgot my password")
	return MustPage(t, b.Submit(choice, "form", map[string]string{"intent": "reset"}), "Verify it's you")
}

// RecoverStart walks from startURL (see RecoverPage) to the method page.
func (x *Env) RecoverStart(t testing.TB, b *pt.Browser, startURL, login string) *pt.Page {
	t.Helper()
	return x.Recover(t, b, x.RecoverPage(t, b, startURL), login)
}

// OpenRecoveryInTab goes, in a real browser tab, from the app's sign-in
// page at startURL through "Can't access your account?" to the
// recovery's start page.
func OpenRecoveryInTab(tab *chrometest.Tab, startURL string) {
	tab.Go(startURL)
	tab.WaitText("h1", "Sign in")
	tab.ClickText("a", "Can't access your account?")
	tab.WaitText("h1", "Get back into your account")
}

// RecoverInTab goes on from the start page as a user does: the test
// user's name and the CAPTCHA, "I forgot my password", up to the method
// page.
func (x *Env) RecoverInTab(tab *chrometest.Tab) {
	answer := x.SolveID(tab.Attr(`input[name="captcha_id"]`, "value"))
	tab.Type("#username", pt.Username)
	tab.Type("#captcha", answer)
	tab.ClickText("button", "Next")
	tab.WaitText("h1", "Why are you having trouble signing in?")
	tab.ClickText("label", "I forgot my password")
	tab.ClickText("button", "Next")
	tab.WaitText("h1", "Verify it's you")
}

// ContinueToApp goes on from the answer to a new password: the
// confirmation page's "Continue to <app>" link, followed back to the app.
// Any other answer is returned as it is.
func ContinueToApp(t testing.TB, b *pt.Browser, res *pt.Result) *pt.Result {
	t.Helper()
	if res.Redirect != nil || res.Page == nil {
		return res
	}
	href, ok := res.Page.Doc.Find(`a.button:contains("Continue to")`).Attr("href")
	if !ok {
		return res
	}
	next, err := res.Page.URL.Parse(href)
	if err != nil {
		t.Fatalf("continue link %q: %v", href, err)
	}
	return b.Get(next.String())
}
