package plugin_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
)

// In a real browser: the app's ui_locales picks the language, the picker
// changes it without JavaScript's help and remembers it, <html lang dir>
// follow, Arabic lays out right to left, and times are shown in the
// browser's own time zone (told by /static/tz.js), named.
func TestBrowserLanguage(t *testing.T) {
	x := plugintest.Start(t, dbtest.URL(t, dbtest.SQLite), plugintest.Options{Methods: []string{"totp", "email"}})
	tokyo := func(o *[]chromedp.ExecAllocatorOption) { *o = append(*o, chromedp.Env("TZ=Asia/Tokyo")) }
	b := chrometest.Start(t, chrometest.Trust(x.Server.HTTP.Certificate()), tokyo)
	tab := b.NewDevice()
	rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
	html := func() string {
		return chrometest.Eval[string](tab, `document.documentElement.lang+" "+document.documentElement.dir`)
	}

	tab.Go(rp.Start(pt.Param("ui_locales", "ja")).URL)
	tab.WaitText("h1", "サインイン")
	if got := html(); got != "ja ltr" {
		t.Errorf("ui_locales=ja: <html> is %q", got)
	}

	tab.ClickText("nav a", "العربية")
	tab.WaitText("h1", "تسجيل الدخول")
	if got := html(); got != "ar rtl" {
		t.Errorf("after picking Arabic: <html> is %q", got)
	}
	// Right to left for real: the heading's text hugs the right edge of
	// its box, and the password field comes after the username going down.
	rtl := chrometest.Eval[bool](tab, `(function(){
		var h=document.querySelector("main h1"), r=document.createRange();
		r.selectNodeContents(h);
		var box=h.getBoundingClientRect(), text=r.getBoundingClientRect();
		return getComputedStyle(h).direction==="rtl" && Math.abs(box.right-text.right)<2 && text.left-box.left>20;
	})()`)
	if !rtl {
		t.Error("the Arabic sign-in page is not laid out right to left")
	}

	// The pick is remembered: the recovery pages of this sign-in and a new
	// visit speak Arabic too.
	tab.ClickText("a", "لا يمكنك الوصول إلى حسابك؟")
	tab.WaitFor("the recovery page", func() bool { return strings.Contains(tab.URL(), "/recover") })
	if got := html(); got != "ar rtl" {
		t.Errorf("recovery page after the pick: <html> is %q", got)
	}

	// Back to English with the picker, sign in, and the account page names
	// the browser's zone.
	tab.Go(x.Server.URL + "/login")
	tab.ClickText("nav a", "English")
	tab.WaitText("h1", "Sign in")
	tab.Type("#username", pt.Username)
	tab.Type("#password", pt.Password)
	tab.ClickText("button", "Sign in")
	tab.WaitText("h1", "Hello")
	if got := tab.Text("main"); !strings.Contains(got, "(Asia/Tokyo)") {
		t.Errorf("the account page does not show its time in the browser's zone: %q", got)
	}
	tab.NoProblems()
}
