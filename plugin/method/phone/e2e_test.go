package phone_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/plugin/sender/twilio/twiliotest"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
)

// The end-to-end tests run the real provider (TLS, sign-in page, RP) with
// the SSPR plugin mounted, phone codes going through the Twilio-compatible
// server on loopback; notifications wait in the queue (x.Drain, then
// x.Outbox).

const newPW = "a brand new phone passphrase"

func startE2E(t *testing.T, dbURL string) *plugintest.Env {
	return plugintest.Start(t, dbURL, plugintest.Options{
		Methods: []string{"mobile", "alternate-phone", "office-phone"},
		// The checklist limits, with room for one user's three
		// registrations and three recoveries in one hour.
		PhoneLimits: func(l *phone.Limits) { l.PerUser.Limit = 10 },
	})
}

var (
	mustPage  = plugintest.MustPage
	optionFor = plugintest.OptionFor
)

// stepUpBySMS passes the step-up of /security-info with the code texted
// to the user's first phone, e164.
func stepUpBySMS(t *testing.T, x *plugintest.Env, b *pt.Browser, e164 string) {
	t.Helper()
	info := mustPage(t, b.Get(x.Server.URL+"/security-info"), "Before you view or change your security info")
	id, _ := info.Doc.Find(`input[name="enrollment"]`).First().Attr("value")
	code := mustPage(t, b.Submit(info, "form", map[string]string{"enrollment": id}), "We sent a code")
	mustPage(t, b.Submit(code, "form", map[string]string{"code": x.Gateway.SMSCode(e164)}), "Add sign-in method")
}

// Issue 4 tests: end-to-end recoveries through the real server with each
// of the three phone kinds; the office extension reaches SendDigits; the
// RP receives tokens whose amr names the phone proof.
func TestEndToEndRecoveryByPhone(t *testing.T) {
	tests := []struct {
		kind       method.Name
		in         method.Input
		e164       string
		option     string
		byCall     bool
		wantDigits string
		wantAMR    []string
	}{
		{method.Mobile, method.Input{"phone": "(201) 555-0101"}, "+12015550101", "Text my mobile phone", false, "", []string{"sms"}},
		{method.AlternatePhone, method.Input{"phone": "+1 201 555 0102"}, "+12015550102", "Call my alternate phone", true, "", []string{"tel"}},
		{method.OfficePhone, method.Input{"phone": "201 555 0103", "country": "US", "extension": "4711"}, "+12015550103", "Call my office phone", true, "ww4711", []string{"tel"}},
	}
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		x := startE2E(t, dbURL)
		for _, tc := range tests {
			x.EnrollPhone(t, tc.kind, tc.in, tc.e164)
		}
		for _, tc := range tests {
			t.Run(string(tc.kind), func(t *testing.T) {
				newPW := newPW + " " + string(tc.kind)
				rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
				a := rp.Start()
				b := x.Server.NewBrowser(t)
				methods := x.RecoverStart(t, b, a.URL, pt.Username)
				calls := len(x.Gateway.Calls())
				verify := mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, tc.option)}),
					"We sent a code")
				// The page speaks of the way the person chose, never of both.
				want := "We sent a code by text message to"
				if tc.byCall {
					want = "We sent a code by phone call to"
				}
				if hint := verify.Text("#code-hint"); !strings.Contains(hint, want) || strings.Contains(verify.Body, "text message or call") {
					t.Errorf("verify page says %q, want %q", hint, want)
				}
				if !strings.Contains(verify.Body, "••") || strings.Contains(verify.Body, tc.e164[2:]) {
					t.Fatalf("verify page does not mask the number:\n%s", verify.Body)
				}
				var code string
				if tc.byCall {
					cs := x.Gateway.Calls()
					if len(cs) != calls+1 || cs[len(cs)-1].To != tc.e164 || cs[len(cs)-1].SendDigits != tc.wantDigits {
						t.Fatalf("calls %+v", cs[calls:])
					}
					code = twiliotest.SpokenCode(cs[len(cs)-1])
				} else {
					code = x.Gateway.SMSCode(tc.e164)
				}
				if len(code) != method.CodeDigits {
					t.Fatalf("no code reached %s", tc.e164)
				}
				pw := mustPage(t, b.Submit(verify, `form[action$="/verify"]`, map[string]string{"code": code}), "Choose a new password")
				res := plugintest.ContinueToApp(t, b, b.Submit(pw, "form", map[string]string{"password": newPW, "confirm": newPW}))
				if res.Redirect == nil {
					t.Fatalf("reset did not return to the app: %s", res)
				}
				tok, err := rp.Exchange(t.Context(), a, rp.Callback(a, res).Get("code"))
				if err != nil {
					t.Fatalf("RP token exchange: %v", err)
				}
				var claims struct {
					AMR []string `json:"amr"`
				}
				if err := tok.IDToken.Claims(&claims); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(claims.AMR, tc.wantAMR) {
					t.Errorf("amr %v, want %v", claims.AMR, tc.wantAMR)
				}
				if _, err := x.Server.Users.Authenticate(t.Context(), pt.Username, newPW); err != nil {
					t.Errorf("the new password does not sign in: %v", err)
				}
				if p := x.Gateway.Problems(); len(p) > 0 {
					t.Fatalf("gateway protocol problems: %q", p)
				}
			})
		}
	})
}

// Issue 4.2: when the gateway fails, the user stays on the method page
// with a message and can pick another method; nothing of the gateway's
// answer shows.
func TestEndToEndGatewayFailure(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		x := startE2E(t, dbURL)
		x.EnrollPhone(t, method.Mobile, method.Input{"phone": "+12015550104"}, "+12015550104")
		x.EnrollPhone(t, method.AlternatePhone, method.Input{"phone": "+12015550105"}, "+12015550105")
		rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
		b := x.Server.NewBrowser(t)
		methods := x.RecoverStart(t, b, rp.Start().URL, pt.Username)
		x.Gateway.Fail(http.StatusServiceUnavailable, "<html>secret-internal-detail</html>")
		again := mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "Text my mobile phone")}),
			"reach your phone")
		if strings.Contains(again.Body, "secret-internal-detail") || strings.Contains(again.Body, "503") || again.Status != http.StatusOK {
			t.Fatalf("failure page leaks the gateway's answer or is not a normal page (%d):\n%s", again.Status, again.Body)
		}
		// Another method works once the gateway is back.
		x.Gateway.Fail(0, "")
		mustPage(t, b.Submit(again, "form", map[string]string{"enrollment": optionFor(t, again, "Call my alternate phone")}), "We sent a code")
	})
}

// Checklist 50, 53 and 54 on the Security info page: after a step-up with
// the mobile phone, an office phone is added through the page; a refused
// number or extension is explained and never called; the number is bound
// only once the code the call said is entered.
func TestEndToEndRegistration(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		x := startE2E(t, dbURL)
		x.EnrollPhone(t, method.Mobile, method.Input{"phone": "+12015550106"}, "+12015550106")
		b := x.SignIn(t)
		stepUpBySMS(t, x, b, "+12015550106")

		add := mustPage(t, b.Get(x.Server.URL+"/security-info/add/office-phone"), "Add Office phone")
		before := x.Gateway.Requests()
		for _, bad := range []struct{ phone, ext, why string }{
			{"+1 900 234 5678", "", "Premium-rate numbers"},
			{"201 555 0107", "7a", "digits only"},
			{"201 555 0107", "12345678901", "at most 10 digits"},
			{"+33 1 23 45 67 89", "", "country"},
		} {
			add = mustPage(t, b.Submit(add, "form", map[string]string{"phone": bad.phone, "country": "US", "extension": bad.ext}), bad.why)
		}
		if x.Gateway.Requests() != before {
			t.Fatal("a refused registration called the gateway")
		}
		sent := mustPage(t, b.Submit(add, "form", map[string]string{"phone": "201 555 0107", "country": "US", "extension": "77"}), "We sent a code")
		calls := x.Gateway.Calls()
		last := calls[len(calls)-1]
		if last.To != "+12015550107" || last.SendDigits != "ww77" {
			t.Fatalf("registration call %+v", last)
		}
		if ms, _ := x.Store.List(t.Context(), x.Server.User.ID); len(ms) != 1 {
			t.Fatal("the number was bound before its code was entered")
		}
		list := mustPage(t, b.Submit(sent, "form", map[string]string{"code": twiliotest.SpokenCode(last)}), "Office phone")
		if !strings.Contains(list.Body, "+1 ••• ••• ••07") && !strings.Contains(list.Body, "&#43;1 ••• ••• ••07") {
			t.Fatalf("the new number is not listed masked:\n%s", list.Body)
		}
		ms, _ := x.Store.List(t.Context(), x.Server.User.ID)
		if len(ms) != 2 || ms[1].Method != method.OfficePhone || ms[1].Label != "+1 ••• ••• ••07" {
			t.Fatalf("enrollments %+v", ms)
		}
		tg, err := x.Phones[method.OfficePhone].Target(ms[1])
		if err != nil || tg.Number.E164 != "+12015550107" || tg.Extension != "77" {
			t.Fatalf("stored %+v %v", tg, err)
		}
	})
}
