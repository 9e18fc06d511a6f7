package plugin_test

import (
	"html"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
)

// Issue 4 (UI): the real provider with every method mounted — the
// Latchkey Authenticator (push, answered by a test device), TOTP, the
// three phones through the Twilio-compatible server on loopback, email
// and security questions.

// startAll runs the provider and plugin with every method; region is the
// deployment's LATCHKEY_DEFAULT_REGION and methods the policy's list.
func startAll(t *testing.T, dbURL, region string, methods ...string) *plugintest.Env {
	return plugintest.Start(t, dbURL, plugintest.Options{Methods: methods, Region: region, PhoneLimits: func(l *phone.Limits) {
		// Room for the sends of a test; the cool-down stays.
		l.PerNumber.Limit, l.PerUser.Limit, l.PerIP.Limit = 50, 50, 50
	}})
}

var allKinds = plugintest.AllMethods

// links lists the texts and targets of the links matched by sel.
func links(p *pt.Page, sel string) (texts, hrefs []string) {
	sl := p.Doc.Find(sel)
	for i := range sl.Length() {
		a := sl.Eq(i)
		href, _ := a.Attr("href")
		texts = append(texts, strings.TrimSpace(a.Text()))
		hrefs = append(hrefs, href)
	}
	return texts, hrefs
}

// Issue 4.1: "Add sign-in method" lists the kinds in the Entra guide's
// order, one "Authenticator app" entry for push and TOTP whose page
// offers the Latchkey Authenticator first (or goes straight to the only
// one enabled); the registered methods show the app first; the TOTP step
// shows the otpauth link for a phone's app or the web authenticator.
func TestEndToEndAddList(t *testing.T) {
	tests := []struct {
		name      string
		methods   []string
		wantTexts []string
		wantApp   string // where "Authenticator app" leads
	}{
		{"push-only-app", []string{"email", "push", "mobile"}, []string{"Authenticator app (Latchkey Authenticator)", "Phone", "Email"}, "/security-info/add/push"},
		{"totp-only-app", []string{"questions", "totp", "office-phone"}, []string{"Authenticator app", "Office phone", "Security questions"}, "/security-info/add/totp"},
		{"no-app", []string{"email", "alternate-phone"}, []string{"Alternate phone", "Email"}, ""},
		// Last: it registers methods.
		{"all", allKinds, []string{"Authenticator app", "Phone", "Alternate phone", "Office phone", "Email", "Security questions"}, "/security-info/add/app"},
	}
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "US", allKinds...)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				x.SetMethods(t, tc.methods...)
				b := x.SignIn(t) // no methods yet: a fresh sign-in may add the first
				info := mustPage(t, b.Get(x.Server.URL+"/security-info"), "Add sign-in method")
				texts, hrefs := links(info, `ul.methods a[href^="/security-info/add/"]`)
				if !slices.Equal(texts, tc.wantTexts) {
					t.Fatalf("add list %q, want %q", texts, tc.wantTexts)
				}
				if tc.wantApp == "" {
					return
				}
				if hrefs[0] != tc.wantApp {
					t.Fatalf("authenticator entry leads to %s, want %s", hrefs[0], tc.wantApp)
				}
				page := mustPage(t, b.Get(x.Server.URL+"/security-info/add/app"), "Add ")
				if tc.wantApp != "/security-info/add/app" {
					if page.URL.Path != tc.wantApp {
						t.Fatalf("one app enabled: the chooser did not go straight to %s (%s)", tc.wantApp, page.URL)
					}
					return
				}
				texts, hrefs = links(page, `ul.methods a`)
				if !slices.Equal(texts, []string{"Latchkey Authenticator", "Another authenticator app (codes only)"}) ||
					!slices.Equal(hrefs, []string{"/security-info/add/push", "/security-info/add/totp"}) ||
					!strings.Contains(page.Body, "codes by text message or call can be intercepted") {
					t.Fatalf("chooser %q %q:\n%s", texts, hrefs, page.Body)
				}
				// The forced-registration link keeps its flow through the chooser.
				if p := mustPage(t, b.Get(x.Server.URL+"/security-info/add/app?register=FLOW1"), "Latchkey Authenticator"); !strings.Contains(p.Body, `href="/security-info/add/push?register=FLOW1"`) {
					t.Fatalf("chooser drops register:\n%s", p.Body)
				}

				totpAdd := mustPage(t, b.Get(x.Server.URL+hrefs[1]), "Add Authenticator app")
				qr := mustPage(t, b.Submit(totpAdd, "form", map[string]string{"current_password": pt.Password}), "Scan this code")
				uri, _ := qr.Doc.Find(`input#otpauth`).Attr("value")
				href, _ := qr.Doc.Find(`a[href^="otpauth://totp/"]`).Attr("href")
				if !strings.HasPrefix(uri, "otpauth://totp/") || href != uri || !strings.Contains(uri, "secret="+totpKey(t, qr)) {
					t.Fatalf("otpauth link %q / %q not shown:\n%s", uri, href, qr.Body)
				}
				c, _ := totp.Code(totpKey(t, qr), x.Server.Clock.Now())
				// Still the fresh sign-in that added every method: the
				// list stays open for a second one, without a cool-down.
				first := mustPage(t, b.Submit(qr, "form", map[string]string{"code": c}), "Add sign-in method")
				if strings.Contains(first.Body, "Usable for recovery from") {
					t.Fatalf("the first session's method cools down:\n%s", first.Body)
				}

				// Registered later, listed after the app all the same; the
				// sign-in is no longer fresh, so a step-up comes first.
				x.EnrollPhone(t, method.Mobile, method.Input{"phone": "+12015550120"}, "+12015550120")
				x.Server.Clock.Advance(plugin.StepUpWindow)
				list := x.StepUpTOTP(t, b, totpKey(t, qr))
				titles := list.Doc.Find(`ul.methods li strong`).Map(func(_ int, s *goquery.Selection) string { return s.Text() })
				if len(titles) != 2 || titles[0] != "Authenticator app" || titles[1] != "Phone" {
					t.Fatalf("registered methods %q, want the app first", titles)
				}
			})
		}
	})
}

// Issue 4.2 and 4.3 on Security info: the phone kinds get their own form
// (country preselected, extension for the office phone, text or call for
// the mobile); a refused number says why on the form and reaches no
// gateway; the mobile's "Call me" makes a call; the code step is the
// form's; a gateway failure and a toll-fraud limit are told on the form,
// never as an error page or in the gateway's words.
func TestEndToEndAddPhone(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "US", allKinds...)
		secret := x.EnrollTOTP(t)
		b := x.SignIn(t)
		x.StepUpTOTP(t, b, secret)

		office := mustPage(t, b.Get(x.Server.URL+"/security-info/add/office-phone"), "Add Office phone")
		if v, _ := office.Doc.Find(`select[name="country"] option[selected]`).Attr("value"); v != "US" ||
			office.Doc.Find(`input[name="extension"]`).Length() != 1 || office.Doc.Find(`input[name="channel"]`).Length() != 0 {
			t.Fatalf("office phone form:\n%s", office.Body)
		}
		before := x.Gateway.Requests()
		for _, bad := range []struct{ phone, why string }{
			{"+1 900 234 5678", "Premium-rate numbers"},
			{"12", "isn&#39;t a valid phone number"},
			{"+44 20 7946 0958", "Numbers in that country"},
		} {
			page := mustPage(t, b.Submit(office, "form", map[string]string{"phone": bad.phone, "country": "US"}), bad.why)
			if v, _ := page.Doc.Find(`input[name="phone"]`).Attr("value"); v != bad.phone || page.Doc.Find(`select[name="country"]`).Length() != 1 {
				t.Fatalf("the form lost what was typed (%q):\n%s", v, page.Body)
			}
		}
		if x.Gateway.Requests() != before {
			t.Fatal("a refused number reached the gateway")
		}

		mobile := mustPage(t, b.Get(x.Server.URL+"/security-info/add/mobile"), "Add Phone")
		if mobile.Doc.Find(`input[name="channel"][value="sms"]`).Length() != 1 || mobile.Doc.Find(`input[name="channel"][value="voice"]`).Length() != 1 ||
			mobile.Doc.Find(`input[name="extension"]`).Length() != 0 || !strings.Contains(mobile.Body, "Call me with a code") {
			t.Fatalf("mobile form:\n%s", mobile.Body)
		}
		t.Run("gateway-failure", func(t *testing.T) {
			x.Gateway.Fail(http.StatusServiceUnavailable, "<html>secret-internal-detail</html>")
			defer x.Gateway.Fail(0, "")
			page := mustPage(t, b.Submit(mobile, "form", map[string]string{"phone": "201 555 0130", "country": "US", "channel": "sms"}),
				"reach your phone")
			if page.Status != http.StatusOK || strings.Contains(page.Body, "secret-internal-detail") || page.Doc.Find(`input[name="phone"]`).Length() != 1 {
				t.Fatalf("gateway failure page (%d):\n%s", page.Status, page.Body)
			}
		})
		x.Server.Clock.Advance(2 * time.Minute)
		calls, texts := len(x.Gateway.Calls()), len(x.Gateway.Messages())
		sent := mustPage(t, b.Submit(mobile, "form", map[string]string{"phone": "201 555 0131", "country": "US", "channel": "voice"}), "We are calling")
		if len(x.Gateway.Calls()) != calls+1 || len(x.Gateway.Messages()) != texts || sent.Doc.Find(`input[name="phone"]`).Length() != 0 ||
			!strings.Contains(sent.Body, "We are calling") || strings.Contains(sent.Body, "by text message or call") {
			t.Fatalf("call me: %d calls, %d texts; page:\n%s", len(x.Gateway.Calls())-calls, len(x.Gateway.Messages())-texts, sent.Body)
		}
		t.Run("toll-fraud-limit", func(t *testing.T) {
			// The same number again at once: the per-number cool-down.
			page := mustPage(t, b.Submit(mobile, "form", map[string]string{"phone": "201 555 0131", "country": "US", "channel": "voice"}),
				"Too many codes were sent")
			if page.Status != http.StatusOK || page.Doc.Find(`input[name="phone"]`).Length() != 1 {
				t.Fatalf("limit page (%d):\n%s", page.Status, page.Body)
			}
		})
		wrong := mustPage(t, b.Submit(sent, "form", map[string]string{"code": "00000000"}), "is not right")
		if wrong.Doc.Find(`input[name="code"]`).Length() != 1 || !strings.Contains(wrong.Body, "We are calling") {
			t.Fatalf("wrong code page is not the phone form's code step:\n%s", wrong.Body)
		}
		list := mustPage(t, b.Submit(wrong, "form", map[string]string{"code": x.Gateway.CallCode("+12015550131")}), "Phone")
		if !strings.Contains(list.Body, "••31") {
			t.Fatalf("the new phone is not listed:\n%s", list.Body)
		}
	})
}

// Issue 4.4: a mobile phone is two rows, "Text my mobile phone" and "Call
// my mobile phone" (alternate and office phones one "Call" row), on the
// recovery and the step-up pages; each row reaches the gateway the way it
// says. Issue 4.3: a gateway failure at either page brings the list back
// with the phone's message, and another method still works.
func TestEndToEndTextOrCall(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "US", allKinds...)
		x.EnrollPhone(t, method.Mobile, method.Input{"phone": "+12015550140"}, "+12015550140")
		x.EnrollPhone(t, method.AlternatePhone, method.Input{"phone": "+12015550141"}, "+12015550141")
		x.EnrollTOTP(t)
		// The app first though registered last, then a row per delivery.
		wantRows := []string{"Enter a code from your authenticator app", "Text my mobile phone +1 ••• ••• ••40",
			"Call my mobile phone +1 ••• ••• ••40", "Call my alternate phone +1 ••• ••• ••41"}

		// send picks the row and reports what reached the gateway.
		send := func(t *testing.T, b *pt.Browser, page *pt.Page, row string) (calls, texts int, next *pt.Page) {
			t.Helper()
			x.Server.Clock.Advance(2 * time.Minute) // past the per-number cool-down
			c, m := len(x.Gateway.Calls()), len(x.Gateway.Messages())
			res := b.Submit(page, "form", map[string]string{"enrollment": optionFor(t, page, row)})
			if res.Page == nil || res.Page.Status != http.StatusOK {
				t.Fatalf("%s: %s", row, res)
			}
			return len(x.Gateway.Calls()) - c, len(x.Gateway.Messages()) - m, res.Page
		}
		rowsOf := func(p *pt.Page) []string {
			return p.Doc.Find(`input[name="enrollment"]`).Map(func(_ int, s *goquery.Selection) string {
				return strings.Join(strings.Fields(s.Parent().Text()), " ")
			})
		}
		for _, tc := range []struct {
			row          string
			calls, texts int
		}{
			{"Text my mobile phone", 0, 1},
			{"Call my mobile phone", 1, 0},
			{"Call my alternate phone", 1, 0},
		} {
			t.Run("recover-"+strings.ReplaceAll(strings.ToLower(tc.row), " ", "-"), func(t *testing.T) {
				b := x.Server.NewBrowser(t)
				methods := x.RecoverStart(t, b, "", pt.Username)
				if rows := rowsOf(methods); !slices.Equal(rows, wantRows) || methods.Doc.Find(`select[name="channel"]`).Length() != 0 {
					t.Fatalf("rows %q, want %q", rows, wantRows)
				}
				calls, texts, page := send(t, b, methods, tc.row)
				if calls != tc.calls || texts != tc.texts || !strings.Contains(page.Body, "We sent a code") {
					t.Fatalf("%d calls, %d texts; page:\n%s", calls, texts, page.Body)
				}
			})
		}
		t.Run("recover-gateway-failure", func(t *testing.T) {
			b := x.Server.NewBrowser(t)
			methods := x.RecoverStart(t, b, "", pt.Username)
			x.Gateway.Fail(http.StatusBadGateway, "<html>secret-internal-detail</html>")
			_, _, again := send(t, b, methods, "Call my mobile phone")
			if !strings.Contains(html.UnescapeString(again.Body), "couldn't reach your phone") || strings.Contains(again.Body, "secret-internal-detail") ||
				!slices.Equal(rowsOf(again), wantRows) {
				t.Fatalf("after a gateway failure:\n%s", again.Body)
			}
			x.Gateway.Fail(0, "")
			if _, texts, page := send(t, b, again, "Text my mobile phone"); texts != 1 || !strings.Contains(page.Body, "We sent a code") {
				t.Fatalf("another try after the failure:\n%s", page.Body)
			}
		})

		b := x.SignIn(t)
		info := mustPage(t, b.Get(x.Server.URL+"/security-info"), "Before you view or change your security info")
		if rows := rowsOf(info); !slices.Contains(rows, "Call my mobile phone +1 ••• ••• ••40") || !slices.Contains(rows, "Text my mobile phone +1 ••• ••• ••40") {
			t.Fatalf("step-up rows %q", rows)
		}
		t.Run("step-up-gateway-failure", func(t *testing.T) {
			x.Gateway.Fail(http.StatusInternalServerError, "secret-internal-detail")
			defer x.Gateway.Fail(0, "")
			_, _, again := send(t, b, info, "Text my mobile phone")
			if !strings.Contains(html.UnescapeString(again.Body), "couldn't reach your phone") || strings.Contains(again.Body, "secret-internal-detail") ||
				again.Doc.Find(`input[name="enrollment"]`).Length() != len(rowsOf(info)) {
				t.Fatalf("step-up after a gateway failure:\n%s", again.Body)
			}
		})
		calls, texts, code := send(t, b, info, "Call my mobile phone")
		if calls != 1 || texts != 0 {
			t.Fatalf("step-up call: %d calls, %d texts", calls, texts)
		}
		mustPage(t, b.Submit(code, "form", map[string]string{"code": x.Gateway.CallCode("+12015550140")}), "Add sign-in method")
	})
}

// Issue 4.5: the push tells the device which application the sign-in is
// for: the client's name when the recovery came from its sign-in page,
// the deployment's name otherwise.
func TestEndToEndPushShowsApp(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "US", allKinds...)
		dev, _ := x.EnrollPush(t, "test phone")
		ctx := t.Context()
		if got := x.Server.Provider.AppName(ctx, "no-such-request"); got != "" {
			t.Fatalf("AppName of an unknown request = %q", got)
		}
		for _, tc := range []struct {
			name, client, secret, redirect, want string
		}{
			{"from-the-app", pt.WebClient, pt.WebSecret, pt.WebRedirect, "Web App"},
			{"from-another-app", pt.PublicClient, "", pt.PublicRedirect, "Single Page App"},
			{"recover-page-alone", "", "", "", "Latchkey"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				x.Server.Clock.Advance(push.Window) // a fresh push-bombing window
				startURL := ""
				if tc.client != "" {
					startURL = x.Server.NewRP(t, tc.client, tc.secret, tc.redirect, "openid").Start().URL
				}
				b := x.Server.NewBrowser(t)
				methods := x.RecoverStart(t, b, startURL, pt.Username)
				mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "notification")}), "I approved it, continue")
				reqs, err := x.Client.Pending(ctx, dev, 0)
				if err != nil || len(reqs) != 1 || reqs[0].App != tc.want {
					t.Fatalf("device sees %+v (%v), want app %q", reqs, err, tc.want)
				}
				if _, err := x.Client.Decide(ctx, dev, reqs[0].ID, push.Deny, ""); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}

// A signed-out visit to Security info signs in and comes back to it, not
// to the provider's "you are signed in" page.
func TestSecurityInfoSignsInAndReturns(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "US", allKinds...)
		b := x.Server.NewBrowser(t)
		login := mustPage(t, b.Get(x.Server.URL+"/security-info"), "Sign in")
		if got := login.URL.Query().Get("next"); got != "/security-info" {
			t.Fatalf("sign-in page for Security info: %s", login.URL)
		}
		res := b.SignIn(login, pt.Username, pt.Password)
		if res.Page == nil || res.Page.URL.Path != "/security-info" || !strings.Contains(res.Page.Body, "Add sign-in method") {
			t.Fatalf("after signing in: %s", res)
		}
	})
}

// The plugin serves its built-in CAPTCHA's picture and sound itself, so a
// host that mounts it (plugin mode) needs no extra route.
func TestMountServesBuiltinCaptcha(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "US", allKinds...)
		b := x.Server.NewBrowser(t)
		start := mustPage(t, b.Get(x.Server.URL+"/recover"), "Get back into your account")
		img, _ := start.Doc.Find(`img[src^="/recover/captcha/"]`).Attr("src")
		wav, _ := start.Doc.Find(`a[href^="/recover/captcha/"]`).Attr("href")
		if img == "" || wav == "" {
			t.Fatalf("no CAPTCHA picture or sound on the start page:\n%s", start.Body)
		}
		for _, src := range []string{img, wav} {
			res, err := x.Server.HTTP.Client().Get(x.Server.URL + src)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if ct := res.Header.Get("Content-Type"); res.StatusCode != http.StatusOK || !(strings.HasPrefix(ct, "image/png") || strings.HasPrefix(ct, "audio/")) {
				t.Fatalf("GET %s: %d %s", src, res.StatusCode, ct)
			}
		}
	})
}

// A registered method whose stored data no longer opens (sealed under an
// earlier LATCHKEY_SECRET) is "not available now" on the recovery and
// step-up pages, with the others still offered: never a 500.
func TestUnreadableMethodIsUnavailable(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "US", allKinds...)
		secret := x.EnrollTOTP(t)
		phone := x.EnrollPhone(t, method.Mobile, method.Input{"phone": "+12015550177"}, "+12015550177")
		if err := x.Server.DB.Exec("UPDATE sspr_methods SET data = ? WHERE id = ?", []byte("sealed under another secret"), phone.ID).Error; err != nil {
			t.Fatal(err)
		}
		before := x.Gateway.Requests()
		b := x.Server.NewBrowser(t)
		methods := x.RecoverStart(t, b, "", pt.Username)
		page := mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "Text my mobile phone")}), "not available now")
		if page.Status != http.StatusOK || page.Doc.Find(`input[name="enrollment"]`).Length() < 2 || x.Gateway.Requests() != before {
			t.Fatalf("recovery with an unreadable phone (%d):\n%s", page.Status, page.Body)
		}

		b = x.SignIn(t)
		info := mustPage(t, b.Get(x.Server.URL+"/security-info"), "Before you view or change your security info")
		page = mustPage(t, b.Submit(info, "form", map[string]string{"enrollment": optionFor(t, info, "Call my mobile phone")}), "not available now")
		if page.Status != http.StatusOK {
			t.Fatalf("step-up with an unreadable phone: %d", page.Status)
		}
		x.StepUpTOTP(t, b, secret) // the app still works
	})
}
