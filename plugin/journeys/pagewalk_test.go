package journeys_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
	"github.com/latchkeyid/latchkey/ui/colour"
)

// ScreenshotsEnv names the directory TestPageWalk saves a PNG of every
// page into (desktop and phone); unset, it saves none.
const screenshotsEnv = "LATCHKEY_SCREENSHOTS"

// pageBudget is the most a page may weigh with everything it loads.
const pageBudget = 100 << 10

// TestPageWalk walks a real Chromium through every journey (sign-in,
// registration, Security info and its add pages, consent, an error,
// sign-out, recovery from start to done, two pages right to left) and
// checks each page on the way:
//   - axe-core finds no violation, in the light and the dark scheme;
//   - the contrast of text, links, input borders, focus rings, buttons and
//     messages, computed from the styles the browser applied, meets WCAG AA
//     (axe skips much of this: focus rings, borders, transparent buttons);
//   - nothing scrolls sideways at 320 and 390 CSS pixels (320 is also a
//     1280 px window at 400 % zoom);
//   - the page with its CSS, scripts and images weighs under 100 KB; its
//     weight and server time are logged (go test -v), never timed.
//
// With LATCHKEY_SCREENSHOTS=docs/screenshots it also saves every page.
func TestPageWalk(t *testing.T) {
	axe := chrometest.Axe(t)
	x := plugintest.Start(t, dbtest.URL(t, dbtest.SQLite), plugintest.Options{
		Methods: []string{"totp", "email", "questions", "mobile", "push"}, RegisterAtSignIn: true, SMTP: true})
	b := chrometest.Start(t, chrometest.Trust(x.Server.HTTP.Certificate()))
	tab := b.NewDevice()
	tab.NoCache()
	tab.AlwaysFocused()
	w := &walker{checker: checker{axe: axe, seen: map[string]bool{}}, t: t, tab: tab, shots: shotsDir(t, "")}
	tab.Viewport(1280, 900, false)
	const home = "alice.home@example.net"

	// Sign-in, a wrong password, then registration at first sign-in.
	rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
	tab.Go(rp.Start().URL)
	tab.WaitText("h1", "Sign in")
	w.visit("signin")
	tab.Type("#username", pt.Username)
	tab.Type("#password", "not the password")
	tab.ClickText("button", "Sign in")
	tab.WaitText("main", "username or password")
	w.visit("signin-error")
	tab.Type("#password", pt.Password)
	tab.ClickText("button", "Sign in")
	tab.WaitText("h1", "Keep your account secure")
	w.visit("register")
	tab.Click(`a[href*="/security-info/add/email"]`)
	tab.WaitText("h1", "Add")
	w.visit("register-add-email")
	tab.Type("#address", home)
	tab.Type("#current-password", pt.Password)
	tab.ClickText("button", "Next")
	tab.WaitText("main", "We sent a code")
	w.visit("register-email-code")
	tab.Type("#code", x.MailCode(t, home))
	tab.ClickText("button", "Next")
	tab.WaitText("main", "Methods that count for recovery: 1 of 1")
	tab.ClickText("button", "Continue")
	tab.WaitURL(pt.WebRedirect + "?")

	// The account page, then Security info behind its step-up.
	tab.Go(x.Server.URL + "/")
	tab.WaitText("h1", "Hello")
	w.visit("account")
	x.Server.Clock.Advance(11 * time.Minute) // past the proof of the registration
	tab.Go(x.Server.URL + "/security-info")
	tab.WaitText("main", "Before you view or change your security info")
	w.visit("security-info-verify")
	tab.ClickText("button", "Next")
	tab.WaitText("main", "We sent a code")
	w.visit("security-info-verify-code")
	tab.Type("#code", "00000000")
	tab.ClickText("button", "Verify")
	tab.WaitFor("the wrong code's error", func() bool { return tab.Text(".error") != "" })
	w.visit("security-info-verify-wrong-code")
	tab.Clear("#code")
	tab.Type("#code", x.MailCode(t, home))
	tab.ClickText("button", "Verify")
	tab.WaitText("h1", "Security info")
	w.visit("security-info")

	tab.Go(x.Server.URL + "/security-info/add/totp")
	tab.WaitText("h1", "Add")
	w.visit("add-totp")
	tab.ClickText("button", "Next")
	tab.WaitText("main", "Scan this code")
	w.visit("add-totp-scan")
	secret := strings.ReplaceAll(tab.Text("main code"), " ", "")
	code, err := totp.Code(secret, x.Server.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	tab.Type("#code", code)
	tab.ClickText("button", "Next")
	tab.WaitText("h1", "Security info")
	tab.WaitText("main", "Delete")
	w.visit("security-info-two-methods")
	for _, add := range []struct{ name, path string }{
		{"add-questions", "questions"}, {"add-phone", "mobile"}, {"add-app", "app"}, {"add-push", "push"},
	} {
		tab.Go(x.Server.URL + "/security-info/add/" + add.path)
		tab.WaitText("h1", "Add")
		w.visit(add.name)
	}

	// A third-party app asks for consent; an unknown app gets the error page.
	partner := x.Server.NewRP(t, pt.ThirdPartyClient, pt.ThirdPartySecret, pt.ThirdPartyRedirect, "openid", "email")
	tab.Go(partner.Start().URL)
	tab.WaitText("h1", "Allow")
	w.visit("consent")
	tab.ClickText("button", "Deny")
	tab.WaitURL(pt.ThirdPartyRedirect)
	tab.Go(x.Server.URL + "/authorize?client_id=nobody&redirect_uri=https%3A%2F%2Fnobody.example%2Fcb&response_type=code&scope=openid")
	tab.WaitFor("the error page", func() bool { return tab.Text("h1") != "" })
	w.visit("error")

	// Sign out, then recover the password from the start.
	tab.Go(x.Server.URL + "/")
	tab.ClickText("button", "Sign out")
	tab.WaitText("h1", "signed out")
	w.visit("signed-out")
	x.Server.Clock.Advance(25 * time.Hour) // the app's cool-down is over
	tab.Go(x.Server.URL + "/recover")
	tab.WaitText("h1", "Get back into your account")
	w.visit("recover-start")
	tab.Type("#username", pt.Username)
	tab.Type("#captcha", "1")
	tab.ClickText("button", "Next")
	tab.WaitFor("the CAPTCHA error", func() bool { return tab.Text(".error") != "" })
	w.visit("recover-start-error")
	tab.Clear("#username")
	tab.Clear("#captcha")
	tab.Type("#username", pt.Username)
	tab.Type("#captcha", x.SolveID(tab.Attr(`input[name="captcha_id"]`, "value")))
	tab.ClickText("button", "Next")
	tab.WaitText("h1", "Why are you having trouble signing in?")
	w.visit("recover-reason")
	tab.ClickText("label", "I forgot my password")
	tab.ClickText("button", "Next")
	tab.WaitText("h1", "Verify it's you")
	w.visit("recover-method")
	tab.ClickText("label", "a•••e@example.net")
	tab.ClickText("button", "Next")
	tab.WaitText("main", "We sent a code by email to")
	w.visit("recover-verify")
	tab.Type("#code", x.MailCode(t, home))
	tab.ClickText("button", "Verify")
	// The account has an authenticator app, usable for recovery once its
	// cool-down is over: then recovery asks for a second proof.
	tab.WaitText("h1", "Verify it's you")
	w.visit("recover-second-method")
	tab.ClickText("label", "authenticator app")
	tab.ClickText("button", "Next")
	tab.WaitText("main", "Open your authenticator app")
	w.visit("recover-verify-app")
	code, err = totp.Code(secret, x.Server.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	tab.Type("#code", code)
	tab.ClickText("button", "Verify")
	tab.WaitText("h1", "Choose a new password")
	w.visit("recover-password")
	tab.Type("#password", plugintest.NewPassword)
	tab.Type("#confirm", plugintest.NewPassword)
	tab.ClickText("button", "Change password")
	tab.WaitText("h1", "Your password was changed")
	w.visit("recover-done")

	// Right to left: the same layout mirrored, from the language picker.
	tab.Click(`nav.languages a[hreflang="ar"]`)
	tab.WaitFor("the page in Arabic", func() bool { return tab.Attr("html", "dir") == "rtl" })
	w.visit("recover-done-rtl")
	tab.Go(x.Server.URL + "/recover")
	tab.WaitFor("the recovery start", func() bool { return tab.Attr("html", "dir") == "rtl" && tab.Text("h1") != "" })
	w.visit("recover-start-rtl")

	w.report()
	tab.NoProblems()
}

// walker runs the checks of TestPageWalk on each page it visits.
type walker struct {
	checker
	t     *testing.T
	tab   *chrometest.Tab
	shots string
	costs []string
}

func (w *walker) visit(name string) {
	w.t.Helper()
	cost := w.tab.PageCost()
	w.costs = append(w.costs, fmt.Sprintf("%-32s %6.1f KB in %d files, server %5.1f ms", name, float64(cost.Bytes)/1024, cost.Files, cost.ServerMS))
	w.t.Run(name, func(t *testing.T) {
		tab := w.tab.With(t)
		w.check(t, tab, cost, true, func() {
			if w.shots != "" {
				w.save(tab, name, "desktop")
			}
		})
		for _, width := range []int64{320, 390} {
			tab.Viewport(width, 800, true)
			noSideways(t, tab, width)
			if width == 390 && w.shots != "" {
				w.save(tab, name, "phone")
			}
		}
		tab.Viewport(1280, 900, false)
	})
}

// checker is what the browser walks check on every page: its weight, its
// errors tied to their fields, axe-core and the contrast of its elements
// in the light and the dark scheme. It remembers which kinds of element
// it measured, for measured.
type checker struct {
	axe  string
	seen map[string]bool // scheme/kind of every contrast pair measured
}

// check checks the page tab shows, which weighed cost; light runs while
// the page shows in the light scheme (a screenshot). Without colours it
// runs axe in the light scheme only and measures no contrast: the
// colours are the same in every language and width, so a walk that
// checked them once for a page need not again.
func (c *checker) check(t *testing.T, tab *chrometest.Tab, cost chrometest.Cost, colours bool, light func()) {
	t.Helper()
	if cost.Bytes > pageBudget {
		t.Errorf("the page weighs %d bytes with what it loads, over the %d budget", cost.Bytes, pageBudget)
	}
	if problems := chrometest.Eval[[]string](tab, errorsTiedJS); len(problems) > 0 {
		t.Errorf("errors not tied to their fields: %v", problems)
	}
	schemes := []bool{false, true}
	if !colours {
		schemes = schemes[:1]
	}
	for _, dark := range schemes {
		scheme := map[bool]string{false: "light", true: "dark"}[dark]
		tab.ColorScheme(dark)
		for _, v := range tab.AxeViolations(c.axe) {
			t.Errorf("axe, %s scheme: %s", scheme, v)
		}
		if !dark && light != nil {
			light()
		}
		if !colours {
			continue
		}
		for _, p := range measureContrast(tab) {
			c.seen[scheme+"/"+p.Kind] = true
			if p.Ratio < p.Min {
				t.Errorf("contrast, %s scheme: %s %s on %s is %.2f:1, below %.1f:1 (%s)", scheme, p.Kind, p.FG, p.BG, p.Ratio, p.Min, p.Where)
			}
		}
	}
	tab.ColorScheme(false)
}

// noSideways fails t if the page, in a viewport width CSS pixels wide,
// is wider than it: it would scroll sideways.
func noSideways(t *testing.T, tab *chrometest.Tab, width int64) {
	t.Helper()
	if got := chrometest.Eval[[]int](tab, `[document.documentElement.scrollWidth,document.documentElement.clientWidth]`); got[0] > got[1] {
		t.Errorf("at %d px the page is %d px wide: it scrolls sideways", width, got[0])
	}
}

// measured fails t if a kind of element was never measured in a scheme,
// so the contrast check cannot pass by finding nothing.
func (c *checker) measured(t *testing.T) {
	t.Helper()
	for _, scheme := range []string{"light", "dark"} {
		for _, kind := range contrastKinds {
			if !c.seen[scheme+"/"+kind] {
				t.Errorf("no %s measured in the %s scheme on any page", kind, scheme)
			}
		}
	}
}

// shotsDir is $LATCHKEY_SCREENSHOTS/sub, a relative path taken from the
// module's root (go test runs in the package's directory), emptied of the
// previous run's pictures (its own: each walk keeps to its sub); "" when
// unset.
func shotsDir(t *testing.T, sub string) string {
	dir := os.Getenv(screenshotsEnv)
	if dir == "" {
		return ""
	}
	if !filepath.IsAbs(dir) {
		root, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(root)
			if parent == root {
				t.Fatal("no go.mod above the test's directory")
			}
			root = parent
		}
		dir = filepath.Join(root, dir)
	}
	dir = filepath.Join(dir, sub)
	old, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func (w *walker) save(tab *chrometest.Tab, name, variant string) {
	saveShot(w.t, tab, w.shots, name+"-"+variant)
}

// saveShot saves a PNG of the page tab shows as dir/name.png.
func saveShot(t *testing.T, tab *chrometest.Tab, dir, name string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name+".png")
	if err := os.WriteFile(file, tab.Screenshot(), 0o644); err != nil { // #nosec G306 -- pictures for the repository
		t.Fatal(err)
	}
}

// report logs every page's cost and checks that every kind of element
// was measured.
func (w *walker) report() {
	w.t.Logf("page costs (first visit, nothing cached):\n  %s", strings.Join(w.costs, "\n  "))
	w.measured(w.t)
}

// pair is one measured colour pair.
type pair struct {
	Kind, Where, FG, BG string
	Ratio, Min          float64
}

var contrastKinds = []string{"text", "muted-text", "link", "input-border", "focus-ring", "primary-button",
	"primary-button-edge", "secondary-button", "secondary-button-edge", "error-text"}

// errorsTiedJS lists what breaks the page's error and landmark rules:
// an error message that no field points at (aria-describedby) while the
// form has fields, an invalid field whose description is missing, a
// skip link whose target is not the main content.
const errorsTiedJS = `(function(){var out=[];
var fields=Array.prototype.filter.call(document.querySelectorAll("main input:not([type=hidden]), main select"),function(e){return e.getBoundingClientRect().width>0});
document.querySelectorAll("main .error").forEach(function(e){
  if(!fields.length)return;
  if(!e.id){out.push("error without an id: "+e.textContent.trim().slice(0,60));return}
  var tied=Array.prototype.some.call(document.querySelectorAll("[aria-describedby]"),function(f){return f.getAttribute("aria-describedby").split(/\s+/).indexOf(e.id)>=0});
  if(!tied)out.push("no field describedby #"+e.id);
  if(!document.querySelector("[aria-invalid=true]")&&!document.querySelector("fieldset[aria-describedby~='"+e.id+"']"))out.push("no field marked aria-invalid for #"+e.id)});
document.querySelectorAll("[aria-describedby]").forEach(function(f){f.getAttribute("aria-describedby").split(/\s+/).forEach(function(id){if(id&&!document.getElementById(id))out.push((f.id||f.tagName)+" describedby missing #"+id)})});
var skip=document.querySelector("a.skip");if(!skip||!document.querySelector("main"+skip.getAttribute("href")))out.push("no skip link to main");
return out})()`

// colourJS has the helpers both snippets use: a computed colour as
// #rrggbb, blended over what is behind it when translucent (a ring at 35 %
// opacity is as faint as it looks), and the first opaque background
// behind an element.
const colourJS = `function rgba(c){var m=(c||"").match(/[\d.]+/g);if(!m)return null;return [+m[0],+m[1],+m[2],m.length>3?+m[3]:1]}
function toHex(v){return "#"+v.slice(0,3).map(function(x){return (Math.round(x)|0).toString(16).padStart(2,"0")}).join("")}
function bg(e){for(;e;e=e.parentElement){var v=rgba(getComputedStyle(e).backgroundColor);if(v&&v[3]===1)return toHex(v)}return "#ffffff"}
function hex(c,back){var v=rgba(c);if(!v||v[3]===0)return "";if(v[3]<1){var b=rgba("rgb("+[1,3,5].map(function(i){return parseInt(back.substr(i,2),16)}).join(",")+")");
v=[0,1,2].map(function(i){return v[3]*v[i]+(1-v[3])*b[i]})}return toHex(v)}
`

// contrastJS lists the colour pairs of the page's key elements as the
// browser computed them: each foreground with the first opaque background
// behind it. Focus rings are measured on the element the keyboard
// focuses (Go presses Tab in between).
const contrastJS = `(function(){
` + colourJS + `function shown(e){var r=e.getBoundingClientRect();return r.width>0&&r.height>0&&getComputedStyle(e).visibility!=="hidden"}
function desc(e){return e.tagName.toLowerCase()+(e.id?"#"+e.id:"")+(e.className&&typeof e.className==="string"?"."+e.className.split(" ").join("."):"")}
var out=[];
function add(kind,e,fg,back,min){if(fg&&back)out.push({Kind:kind,Where:desc(e),FG:fg,BG:back,Min:min})}
function first(sel){return Array.prototype.find.call(document.querySelectorAll(sel),shown)}
var e;
if(e=first("main h1, main p"))add("text",e,hex(getComputedStyle(e).color,bg(e)),bg(e),4.5);
if(e=first("main .muted, main .hint"))add("muted-text",e,hex(getComputedStyle(e).color,bg(e)),bg(e),4.5);
if(e=first("main a:not(.button), footer a"))add("link",e,hex(getComputedStyle(e).color,bg(e)),bg(e),4.5);
if(e=first("input[type=text], input[type=password], input[type=email], input[type=tel], select"))add("input-border",e,hex(getComputedStyle(e).borderTopColor,bg(e.parentElement)),bg(e.parentElement),3);
if(e=first("button:not(.secondary), a.button:not(.secondary)")){var s=getComputedStyle(e),p=bg(e.parentElement);add("primary-button",e,hex(s.color,bg(e)),bg(e),4.5);add("primary-button-edge",e,hex(s.backgroundColor,p)||hex(s.borderTopColor,p),p,3)}
if(e=first("button.secondary, a.button.secondary")){var s=getComputedStyle(e),p=bg(e.parentElement);add("secondary-button",e,hex(s.color,bg(e)),bg(e),4.5);add("secondary-button-edge",e,hex(s.borderTopColor,p),p,3)}
if(e=first(".error"))add("error-text",e,hex(getComputedStyle(e).color,bg(e)),bg(e),4.5);
if(e=first(".notice"))add("notice-text",e,hex(getComputedStyle(e).color,bg(e)),bg(e),4.5);
return JSON.stringify(out)})()`

// focusJS measures the focus ring of the focused element: its outline
// (at least 2 px) against the background around it.
const focusJS = `(function(){var e=document.activeElement;if(!e||e===document.body)return "[]";
` + colourJS + `var s=getComputedStyle(e);var ring=s.outlineStyle!=="none"&&parseFloat(s.outlineWidth)>=2?hex(s.outlineColor,bg(e.parentElement)):"";
return JSON.stringify([{Kind:"focus-ring",Where:e.tagName.toLowerCase()+(e.id?"#"+e.id:""),FG:ring||"none",BG:bg(e.parentElement),Min:3}])})()`

func measureContrast(tab *chrometest.Tab) []pair {
	var out []pair
	decode := func(raw string) {
		var ps []pair
		if err := json.Unmarshal([]byte(raw), &ps); err != nil {
			panic(err)
		}
		for _, p := range ps {
			p.Ratio = 1
			if fg, err := colour.Parse(p.FG); err == nil {
				if bg, err := colour.Parse(p.BG); err == nil {
					p.Ratio = colour.Contrast(fg, bg)
				}
			}
			out = append(out, p)
		}
	}
	decode(chrometest.Eval[string](tab, contrastJS))
	// The first field or button, then one Tab on: the keyboard's ring.
	if chrometest.Eval[bool](tab, `(function(){var e=document.querySelector("main input:not([type=hidden]), main select, main button, main a");if(!e)return false;e.focus();return true})()`) {
		decode(chrometest.Eval[string](tab, focusJS))
		tab.PressTab()
		decode(chrometest.Eval[string](tab, focusJS))
		chrometest.Eval[bool](tab, `(document.activeElement&&document.activeElement.blur(),true)`)
	}
	return out
}
