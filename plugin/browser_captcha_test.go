package plugin_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/plugin/captcha"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
)

// The vendors' widgets, played by the test (the machine has no internet):
// each loads what the real one loads from the vendor's hosts (a frame; for
// hCaptcha also a stylesheet and a request to its API) and marks the
// widget ready only when all of them arrived, so a policy that forbids any
// of them leaves the widget unready (and the console reports the CSP
// violation).
const (
	hcaptchaStandIn = `(function(){
  var el = document.querySelector(".h-captcha"), got = {};
  function done(k){ got[k] = true; if (got.frame && got.style && got.connect) el.dataset.ready = "yes"; }
  window.addEventListener("message", function(e){ if (e.origin === "https://newassets.hcaptcha.com" && e.data === "stub-frame") done("frame"); });
  var css = document.createElement("link"); css.rel = "stylesheet"; css.href = "https://newassets.hcaptcha.com/captcha/v1/stub/hcaptcha.css";
  css.onload = function(){ done("style"); }; document.head.appendChild(css);
  fetch("https://api.hcaptcha.com/checksiteconfig?sitekey=" + encodeURIComponent(el.dataset.sitekey))
    .then(function(r){ return r.json(); }).then(function(j){ if (j.pass) done("connect"); });
  var f = document.createElement("iframe"); f.src = "https://newassets.hcaptcha.com/captcha/v1/stub/static/hcaptcha.html";
  f.width = 303; f.height = 78; el.appendChild(f);
  var ta = document.createElement("textarea"); ta.name = "h-captcha-response"; ta.hidden = true; ta.value = "stub-ok"; el.appendChild(ta);
})();`
	turnstileStandIn = `(function(){
  var el = document.querySelector(".cf-turnstile");
  window.addEventListener("message", function(e){ if (e.origin === "https://challenges.cloudflare.com" && e.data === "stub-frame") el.dataset.ready = "yes"; });
  var f = document.createElement("iframe"); f.src = "https://challenges.cloudflare.com/cdn-cgi/challenge-platform/stub/turnstile.html";
  f.width = 300; f.height = 65; el.appendChild(f);
  var in_ = document.createElement("input"); in_.type = "hidden"; in_.name = "cf-turnstile-response"; in_.value = "stub-ok." + el.dataset.cdata; el.appendChild(in_);
})();`
	frameStandIn = `<!doctype html><title>widget</title><script>parent.postMessage("stub-frame", "*")</script>`
)

func vendorStandIn(url string) chrometest.StandIn {
	switch {
	case strings.HasSuffix(url, "/1/api.js") || strings.HasPrefix(url, captcha.HCaptchaScriptURL):
		return chrometest.StandIn{Status: 200, ContentType: "text/javascript", Body: hcaptchaStandIn}
	case strings.HasPrefix(url, captcha.TurnstileScriptURL):
		return chrometest.StandIn{Status: 200, ContentType: "text/javascript", Body: turnstileStandIn}
	case strings.HasSuffix(url, ".css"):
		return chrometest.StandIn{Status: 200, ContentType: "text/css", Body: ".h-captcha iframe{border:0}"}
	case strings.Contains(url, "checksiteconfig"):
		return chrometest.StandIn{Status: 200, ContentType: "application/json", Body: `{"pass":true}`}
	case strings.HasSuffix(url, ".html"):
		return chrometest.StandIn{Status: 200, ContentType: "text/html", Body: frameStandIn}
	}
	return chrometest.StandIn{Status: 404, ContentType: "text/plain", Body: "not played by the test"}
}

// siteverifyStandIn answers as the vendors' siteverify APIs do: success
// for the stand-in widget's token, with Turnstile's cData echoed.
func siteverifyStandIn(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.PostFormValue("response")
		cdata, ok := strings.CutPrefix(tok, "stub-ok.")
		_ = json.NewEncoder(w).Encode(map[string]any{"success": ok || tok == "stub-ok", "cdata": cdata})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestBrowserRecoverStartEachCaptcha: the start page's policy is built
// from the configured CAPTCHA. In headless Chromium, with the vendors'
// hosts answered by the test, the hCaptcha and Turnstile widgets load
// their script, frame (and for hCaptcha style and API request) without a
// CSP violation, render, and their token takes the user on to the next
// step; the builtin CAPTCHA keeps the strict policy (no frames, no other
// host) and works as before. Other pages never allow the vendors.
func TestBrowserRecoverStartEachCaptcha(t *testing.T) {
	for _, tc := range []struct {
		kind   captcha.Kind
		widget string // the element the widget renders into
		hosts  []string
	}{
		{captcha.Builtin, "", nil},
		{captcha.HCaptcha, ".h-captcha", []string{"https://hcaptcha.com", "https://*.hcaptcha.com"}},
		{captcha.Turnstile, ".cf-turnstile", []string{"https://challenges.cloudflare.com"}},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			var cv captcha.Verifier
			if tc.kind != captcha.Builtin {
				sv := siteverifyStandIn(t)
				var err error
				if cv, err = captcha.NewSiteVerify(tc.kind, "site-key-test", "secret-test", sv.URL, sv.Client()); err != nil {
					t.Fatal(err)
				}
			}
			x := plugintest.Start(t, dbtest.URL(t, dbtest.SQLite), plugintest.Options{Methods: []string{"email"}, Captcha: cv})
			x.EnrollEmail(t, "alice.home@example.net")

			// The header itself: the vendor's hosts on the start page only.
			b := x.Server.NewBrowser(t)
			start := b.Get(x.Server.URL + "/recover")
			policy := start.Page.Header.Get("Content-Security-Policy")
			for _, h := range tc.hosts {
				for _, dir := range []string{"script-src", "frame-src"} {
					if !directiveHas(policy, dir, h) {
						t.Errorf("start page %s lacks %s: %q", dir, h, policy)
					}
				}
			}
			if tc.kind == captcha.Builtin && strings.Contains(policy, "frame-src") {
				t.Errorf("builtin CAPTCHA page allows frames: %q", policy)
			}
			if tc.kind == captcha.HCaptcha && (!directiveHas(policy, "style-src", "https://*.hcaptcha.com") || !directiveHas(policy, "connect-src", "https://*.hcaptcha.com")) {
				t.Errorf("hCaptcha page lacks style-src or connect-src: %q", policy)
			}
			login := b.Get(x.Server.URL + "/login")
			if p := login.Page.Header.Get("Content-Security-Policy"); strings.Contains(p, "hcaptcha") || strings.Contains(p, "cloudflare") {
				t.Errorf("the sign-in page allows a CAPTCHA vendor: %q", p)
			}

			br := chrometest.Start(t, chrometest.Trust(x.Server.HTTP.Certificate()))
			tab := br.NewDevice()
			tab.Intercept(vendorStandIn, "https://hcaptcha.com/*", "https://*.hcaptcha.com/*", "https://challenges.cloudflare.com/*")
			tab.Go(x.Server.URL + "/recover")
			tab.WaitText("h1", "Get back into your account")
			tab.Type("#username", pt.Username)
			if tc.kind == captcha.Builtin {
				tab.WaitFor("the CAPTCHA picture", func() bool {
					return chrometest.Eval[bool](tab, `(function(){var i=document.querySelector("main img");return !!i&&i.complete&&i.naturalWidth>0})()`)
				})
				tab.Type("#captcha", x.SolveID(tab.Attr(`input[name="captcha_id"]`, "value")))
			} else {
				tab.WaitFor("the widget to render", func() bool {
					return chrometest.Eval[bool](tab, `(function(){var w=document.querySelector("`+tc.widget+`");return !!w&&w.dataset.ready==="yes"&&!!w.querySelector("iframe")})()`)
				})
				got := tab.Intercepted()
				if !slices.ContainsFunc(got, func(u string) bool { return strings.HasSuffix(u, "api.js") }) {
					t.Errorf("the widget script was never requested: %v", got)
				}
			}
			tab.ClickText("button", "Next")
			tab.WaitFor("the next step", func() bool {
				return strings.Contains(tab.Text("h1"), "Why are you having trouble") || strings.Contains(tab.Text("main"), "did not match")
			})
			if !strings.Contains(tab.Text("h1"), "Why are you having trouble") {
				t.Fatalf("the CAPTCHA did not pass: %s", tab.Text("main"))
			}
			tab.NoProblems()
		})
	}
}

// directiveHas reports whether CSP policy's directive dir lists src.
func directiveHas(policy, dir, src string) bool {
	for _, d := range strings.Split(policy, ";") {
		f := strings.Fields(d)
		if len(f) > 0 && f[0] == dir && slices.Contains(f[1:], src) {
			return true
		}
	}
	return false
}
