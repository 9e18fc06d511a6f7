package plugin_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
)

// startForm posts the start page p with values over its hidden fields,
// without following the answer.
func startForm(t *testing.T, b *pt.Browser, p *pt.Page, values map[string]string) *http.Response {
	t.Helper()
	data := url.Values{}
	for _, name := range []string{"csrf", "form", "captcha_id", "authRequestID", "reason"} {
		if v, ok := p.Doc.Find(`form[action="/recover"] input[name="` + name + `"]`).Attr("value"); ok {
			data.Set(name, v)
		}
	}
	for k, v := range values {
		data.Set(k, v)
	}
	return b.Do(http.MethodPost, p.URL.ResolveReference(&url.URL{Path: "/recover"}).String(), data)
}

func captchaOf(p *pt.Page) (id, img, audio string) {
	id, _ = p.Doc.Find(`input[name="captcha_id"]`).Attr("value")
	img, _ = p.Doc.Find(`form img`).Attr("src")
	audio, _ = p.Doc.Find(`audio#captcha-audio`).Attr("src")
	return id, img, audio
}

// TestRecoverStartPostRedirectGet: the start page answers every POST with
// 303 to a GET, so Back never re-posts; the GET keeps its CAPTCHA across
// reloads and Back while it is live (the digits heard still count), a
// wrong answer shows the error with the typed name kept and a new
// CAPTCHA, "New picture" keeps the name, the sound is the picture's
// challenge, and a state made in another browser is not shown.
func TestRecoverStartPostRedirectGet(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		x := plugintest.Start(t, dbURL, plugintest.Options{Methods: []string{"email"}})
		x.EnrollEmail(t, "alice.home@example.net")
		b := x.Server.NewBrowser(t)

		first := b.Get(x.Server.URL + "/recover?authRequestID=ar-1&reason=forgot")
		if len(first.Statuses) < 2 || first.Statuses[0] != http.StatusSeeOther {
			t.Fatalf("GET /recover did not redirect to its state: %v", first.Statuses)
		}
		start := plugintest.MustPage(t, first, "Get back into your account")
		id, img, audio := captchaOf(start)
		t.Run("audio-is-the-same-challenge", func(t *testing.T) {
			if id == "" || !strings.Contains(img, id+".png") || !strings.Contains(audio, id+".wav") {
				t.Errorf("picture %q and sound %q are not CAPTCHA %q", img, audio, id)
			}
			for _, want := range []string{"Type the 6 digits you see or hear", "New picture", "Play again"} {
				if !strings.Contains(start.Body, want) {
					t.Errorf("start page lacks %q", want)
				}
			}
			if _, ok := start.Doc.Find("audio#captcha-audio").Attr("controls"); !ok {
				t.Errorf("the audio has no controls of its own (needed without JavaScript)")
			}
			if strings.Contains(start.Body, "characters") {
				t.Errorf("start page still says characters")
			}
			res, err := x.Server.HTTP.Client().Get(x.Server.URL + audio)
			if err != nil || res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), "wav") {
				t.Fatalf("audio: %v %v", res, err)
			}
			res.Body.Close()
		})
		t.Run("reload-and-back-keep-the-challenge", func(t *testing.T) {
			again := plugintest.MustPage(t, b.Get(start.URL.String()), "Get back into your account")
			if got, _, _ := captchaOf(again); got != id {
				t.Errorf("reload showed CAPTCHA %q, want %q", got, id)
			}
			if v, _ := again.Doc.Find(`input[name="authRequestID"]`).Attr("value"); v != "ar-1" {
				t.Errorf("authRequestID %q after reload", v)
			}
		})
		t.Run("new-picture-keeps-the-name", func(t *testing.T) {
			res := startForm(t, b, start, map[string]string{"username": "alice", "captcha_action": "new"})
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("New picture answered %d", res.StatusCode)
			}
			p := plugintest.MustPage(t, b.Get(res.Request.URL.ResolveReference(locURL(t, res)).String()), "Get back into your account")
			if got, _, _ := captchaOf(p); got == id || got == "" {
				t.Errorf("New picture kept CAPTCHA %q", got)
			}
			if v, _ := p.Doc.Find("#username").Attr("value"); v != "alice" || strings.Contains(p.Body, `class="error"`) {
				t.Errorf("after New picture: name %q, error shown %v", v, strings.Contains(p.Body, `class="error"`))
			}
		})
		var wrongURL string
		t.Run("wrong-answer-redirects-and-keeps-the-name", func(t *testing.T) {
			res := startForm(t, b, start, map[string]string{"username": "alice", "captcha": "000000"})
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("a wrong CAPTCHA answered %d, want 303", res.StatusCode)
			}
			wrongURL = res.Request.URL.ResolveReference(locURL(t, res)).String()
			p := plugintest.MustPage(t, b.Get(wrongURL), "The digits did not match")
			if v, _ := p.Doc.Find("#username").Attr("value"); v != "alice" {
				t.Errorf("the name typed was lost: %q", v)
			}
			if got, _, _ := captchaOf(p); got == id {
				t.Errorf("the spent CAPTCHA is shown again")
			}
			if d, _ := p.Doc.Find("#captcha").Attr("aria-describedby"); d != "recover-error" {
				t.Errorf("the error is not tied to the CAPTCHA field: %q", d)
			}
			// Back to the page before: a GET, no resubmission; its CAPTCHA
			// was spent, so a new one, the name still there.
			back := b.Get(start.URL.String())
			bp := plugintest.MustPage(t, back, "Get back into your account")
			if got, _, _ := captchaOf(bp); got == id {
				t.Errorf("Back showed the spent CAPTCHA")
			}
		})
		t.Run("right-answer-after-an-error", func(t *testing.T) {
			p := plugintest.MustPage(t, b.Get(wrongURL), "The digits did not match")
			plugintest.MustPage(t, b.Submit(p, `form[action="/recover"]`, map[string]string{"captcha": x.Solve(p)}), "Why are you having trouble")
		})
		t.Run("empty-name-redirects", func(t *testing.T) {
			p := plugintest.MustPage(t, b.Get(x.Server.URL+"/recover"), "Get back into your account")
			res := startForm(t, b, p, map[string]string{"username": "", "captcha": x.Solve(p)})
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("empty name answered %d", res.StatusCode)
			}
			q := plugintest.MustPage(t, b.Get(res.Request.URL.ResolveReference(locURL(t, res)).String()), "Enter your username or email address.")
			if d, _ := q.Doc.Find("#username").Attr("aria-describedby"); d != "recover-error" {
				t.Errorf("the error is not tied to the name field: %q", d)
			}
		})
		t.Run("browser-without-cookies-gets-the-page-once", func(t *testing.T) {
			c := x.Server.HTTP.Client() // no cookie jar
			hops := 0
			c.CheckRedirect = func(*http.Request, []*http.Request) error { hops++; return nil }
			res, err := c.Get(x.Server.URL + "/recover")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK || hops != 1 {
				t.Errorf("without cookies: %d after %d redirects, want 200 after 1", res.StatusCode, hops)
			}
		})
		t.Run("state-from-another-browser", func(t *testing.T) {
			other := x.Server.NewBrowser(t)
			res := startForm(t, b, start, map[string]string{"username": "victim-typed", "captcha_action": "new"})
			res.Body.Close()
			loc := res.Request.URL.ResolveReference(locURL(t, res)).String()
			p := plugintest.MustPage(t, other.Get(loc), "Get back into your account")
			if strings.Contains(p.Body, "victim-typed") {
				t.Errorf("another browser's state was shown")
			}
		})
	})
}

func locURL(t *testing.T, res *http.Response) *url.URL {
	t.Helper()
	u, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestBrowserRecoverStartAudioByKeyboard: the whole start in headless
// Chromium by keyboard with the sound only: Tab from the name to the
// audio player, play it, Tab to the digits field, type what was heard
// (the test knows the challenge as the listener does), Enter. A wrong
// answer first shows the error with the name kept and the focus in the
// digits field; Back then shows the start page again without a
// form-resubmission error; the right digits lead to the next step.
func TestBrowserRecoverStartAudioByKeyboard(t *testing.T) {
	x := plugintest.Start(t, dbtest.URL(t, dbtest.SQLite), plugintest.Options{Methods: []string{"email"}})
	x.EnrollEmail(t, "alice.home@example.net")
	br := chrometest.Start(t, chrometest.Trust(x.Server.HTTP.Certificate()))
	tab := br.NewDevice()
	tab.Go(x.Server.URL + "/recover")
	tab.WaitText("h1", "Get back into your account")

	// tabTo presses Tab until the element described by want has the focus.
	tabTo := func(want string) {
		t.Helper()
		for range 8 {
			if tab.Focused() == want {
				return
			}
			tab.Keys("\t")
		}
		t.Fatalf("Tab never reached %s (focus on %s)", want, tab.Focused())
	}
	// playByKeyboard plays the sound with the focus on the player.
	playByKeyboard := func() {
		t.Helper()
		tabTo("captcha-audio")
		tab.Keys(" ")
		tab.WaitFor("the sound to play", func() bool {
			return chrometest.Eval[bool](tab, `(function(){var a=document.getElementById("captcha-audio");return !a.paused||a.ended||a.currentTime>0})()`)
		})
		tab.WaitFor("the sound's length to be known", func() bool {
			return chrometest.Eval[bool](tab, `(function(){var a=document.getElementById("captcha-audio");return isFinite(a.duration)&&a.duration>1})()`)
		})
	}
	heard := func() string {
		t.Helper()
		id := tab.Attr(`input[name="captcha_id"]`, "value")
		if src := tab.Attr("#captcha-audio", "src"); !strings.Contains(src, id+".wav") {
			t.Fatalf("the sound %q is not the challenge %q", src, id)
		}
		return x.SolveID(id)
	}

	// autofocus applies after the page renders: wait for it.
	tab.WaitFor("the focus in the name field", func() bool { return tab.Focused() == "username" })
	tab.Keys(pt.Username)
	playByKeyboard()
	_ = heard()
	tabTo("captcha")
	tab.Keys("000000\r")
	tab.WaitText("main", "The digits did not match")
	if v := chrometest.Eval[string](tab, `document.getElementById("username").value`); v != pt.Username {
		t.Errorf("the name typed was lost: %q", v)
	}
	tab.WaitFor("the focus in the digits field after the error", func() bool { return tab.Focused() == "captcha" })

	tab.Back()
	tab.WaitText("h1", "Get back into your account")
	if strings.Contains(tab.Text("body"), "resubmission") || strings.Contains(tab.Text("body"), "ERR_CACHE_MISS") {
		t.Fatalf("Back shows a resubmission error: %s", tab.Text("body"))
	}
	// Start again and solve it by ear, with "Play again" (recover's
	// script shows it) before typing.
	tab.Go(x.Server.URL + "/recover")
	tab.WaitText("h1", "Get back into your account")
	tab.WaitFor("the focus in the name field", func() bool { return tab.Focused() == "username" })
	tab.Keys(pt.Username)
	playByKeyboard()
	digits := heard()
	tabTo("captcha-replay")
	tab.Keys("\r")
	tab.WaitFor("Play again to play the sound", func() bool {
		return chrometest.Eval[bool](tab, `!document.getElementById("captcha-audio").paused`)
	})
	tabTo("captcha")
	tab.Keys(digits + "\r")
	tab.WaitText("h1", "Why are you having trouble signing in?")
	tab.NoProblems()
}
