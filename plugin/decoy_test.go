package plugin_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// TestDecoyShapes: decoy lists are stable per name, look like real lists
// (masked email, authenticator app, ids of the same shape) and follow the
// real users' distribution: with real users holding three methods,
// security questions and addresses at corp.example, decoys show three
// methods, questions and addresses at corp.example too, never the
// issuer's IP address.
func TestDecoyShapes(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setPolicy("methods=email,totp,questions")
		for i := range 8 {
			u := e.user("real"+string(rune('a'+i)), false)
			e.enrollEmail(u, u.Username+"@corp.example")
			e.enrollTOTP(u)
			e.enrollQuestions(u)
		}
		sizes := map[int]bool{}
		questions, corp := false, false
		names := []string{"ines@example.net"}
		for i := range 23 {
			names = append(names, "person"+string(rune('a'+i)))
		}
		for _, name := range names {
			b := e.browser()
			fp := b.start(name, "")
			b.post(fp, url.Values{"intent": {"reset"}})
			b.get(fp + "/method")
			opts := b.options()
			sizes[len(opts)] = true
			for _, o := range opts {
				if len(o[0]) != 26 {
					t.Errorf("%s: decoy id %q not shaped like a real one", name, o[0])
				}
				if strings.Contains(o[1], "@") && !strings.Contains(o[1], "•••") {
					t.Errorf("%s: unmasked decoy address %q", name, o[1])
				}
				if strings.Contains(o[1], "@127.") || strings.Contains(o[1], "@0.1") {
					t.Errorf("%s: decoy address at the issuer's IP: %q", name, o[1])
				}
				questions = questions || strings.Contains(o[1], "security questions")
				corp = corp || strings.HasSuffix(o[1], "@corp.example")
			}
			b2 := e.browser()
			fp2 := b2.start(name, "")
			b2.post(fp2, url.Values{"intent": {"reset"}})
			b2.get(fp2 + "/method")
			if got := b2.options(); len(got) != len(opts) || (len(got) > 0 && got[0][1] != opts[0][1]) {
				t.Errorf("%s: decoy list changes between flows: %v vs %v", name, got, opts)
			}
		}
		if !sizes[3] || !sizes[1] {
			t.Errorf("decoy list sizes %v: want 3 (as real users) and 1 (a prior)", sizes)
		}
		if !questions || !corp {
			t.Errorf("decoys never showed questions (%v) or an address at corp.example (%v)", questions, corp)
		}
	})
}

// TestDecoyMailDomains: with no real addresses, a decoy address uses the
// configured domains (LATCHKEY_DECOY_MAIL_DOMAINS), and without them never
// the issuer's IP address (the test issuer is 127.0.0.1).
func TestDecoyMailDomains(t *testing.T) {
	for _, tc := range []struct {
		name    string
		domains []string
		want    string
	}{
		{"configured", []string{"Mail.Example.COM"}, "@mail.example.com"},
		{"none-configured", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dbtestEach(t, func(t *testing.T, dbURL string) {
				e := newEnvWith(t, dbURL, func(d *plugin.Deps) { d.DecoyMailDomains = tc.domains })
				e.setPolicy("methods=email")
				seen := 0
				for i := range 6 {
					b := e.browser()
					fp := b.start("someone"+string(rune('a'+i)), "")
					b.post(fp, url.Values{"intent": {"reset"}})
					b.get(fp + "/method")
					for _, o := range b.options() {
						if strings.Contains(o[1], "@127.") || strings.Contains(o[1], "@0.1") {
							t.Fatalf("decoy address at the issuer's IP: %q", o[1])
						}
						if tc.want != "" && !strings.HasSuffix(o[1], tc.want) {
							t.Fatalf("decoy address %q, want the domain %s", o[1], tc.want)
						}
						seen++
					}
				}
				if tc.want != "" && seen == 0 {
					t.Fatal("no decoy address shown")
				}
			})
		})
	}
}

// Issue 4.6: decoy phone numbers carry the deployment's dial code, never
// a fixed "+1".
func TestDecoyPhonesFollowRegion(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "GB", "mobile", "alternate-phone", "office-phone")
		seen := map[string]bool{}
		for i := range 20 { // a row missing from all 20: about 3 in a million
			b := x.Server.NewBrowser(t)
			methods := x.RecoverStart(t, b, "", "nobody-"+string(rune('a'+i)))
			rows := methods.Doc.Find(`input[name="enrollment"]`).Map(func(_ int, s *goquery.Selection) string {
				return strings.Join(strings.Fields(s.Parent().Text()), " ")
			})
			if len(rows) == 0 {
				t.Fatal("no decoy methods with only phones enabled")
			}
			for _, r := range rows {
				title, number, ok := strings.Cut(r, " +")
				if !ok || !strings.HasPrefix(number, "44 ••• ••• ••") {
					t.Fatalf("decoy row %q: not a masked UK number", r)
				}
				seen[title] = true
			}
		}
		for _, want := range []string{"Text my mobile phone", "Call my mobile phone", "Call my alternate phone", "Call my office phone"} {
			if !seen[want] {
				t.Errorf("no decoy row %q among 20 names (%v)", want, seen)
			}
		}
	})
}

var (
	pushNumber = regexp.MustCompile(`(?:<strong>|class="push-number"[^>]*>)\d{2}<`)
	anyID      = regexp.MustCompile(`[A-Z2-7]{26}`)
)

// Issue 4.6: with only the authenticator notification, or only the
// call-only phones, enabled, unknown names still get decoy methods; a
// decoy push shows the same waiting page as a real one and only ever
// waits or fails; a decoy call reaches no gateway and fails like a wrong
// code.
func TestDecoyOtherKinds(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "US", "push")
		dev, _ := x.EnrollPush(t, "test phone")
		ctx := t.Context()
		waiting := func(login string) (*pt.Browser, *pt.Page) {
			b := x.Server.NewBrowser(t)
			methods := x.RecoverStart(t, b, "", login)
			return b, mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "notification")}),
				"I approved it, continue")
		}
		// Tags only (the number is text), ids of flows and pushes scrubbed.
		shape := func(p *pt.Page) string { return anyID.ReplaceAllString(structure(p.Body), "X") }
		_, real := waiting(pt.Username)
		reqs, err := x.Client.Pending(ctx, dev, 0)
		if err != nil || len(reqs) != 1 {
			t.Fatalf("device: %+v %v", reqs, err)
		}
		if _, err := x.Client.Decide(ctx, dev, reqs[0].ID, push.Deny, ""); err != nil {
			t.Fatal(err)
		}
		b, decoy := waiting("nobody-at-all")
		if shape(decoy) != shape(real) || !pushNumber.MatchString(decoy.Body) {
			t.Fatalf("decoy push page differs:\n%s\nvs\n%s", shape(decoy), shape(real))
		}
		if reqs, _ := x.Client.Pending(ctx, dev, 0); len(reqs) != 0 {
			t.Fatalf("a decoy push reached a device: %+v", reqs)
		}
		mustPage(t, b.Submit(decoy, `form[action$="/verify"]`, nil), "Waiting for your answer")
		x.Server.Clock.Advance(push.TTL)
		if r := b.Submit(decoy, `form[action$="/verify"]`, nil); r.Page == nil || r.Page.Status != http.StatusOK ||
			strings.Contains(r.Page.Body, "Choose a new password") || !strings.Contains(r.Page.Body, "Choose a method to try again") {
			t.Fatalf("an expired decoy push: %s\n%s", r, r.Page.Body)
		}

		x.SetMethods(t, "alternate-phone", "office-phone")
		before := x.Gateway.Requests()
		b = x.Server.NewBrowser(t)
		methods := x.RecoverStart(t, b, "", "nobody-at-all")
		code := mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "Call my")}), "We sent a code")
		mustPage(t, b.Submit(code, `form[action$="/verify"]`, map[string]string{"code": "12345678"}), "is not right")
		if x.Gateway.Requests() != before {
			t.Fatal("a decoy call reached the gateway")
		}
	})
}

// Checklist A3 with the issue 4 kinds: a user with a mobile phone and the
// authenticator, and unknown names, get method pages of one structure
// (the Text and Call rows are rows like any other).
func TestMethodPageGenericWithPhones(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "US", "push", "mobile", "alternate-phone", "email")
		x.EnrollPush(t, "test phone")
		x.EnrollPhone(t, method.Mobile, method.Input{"phone": "+12015550150"}, "+12015550150")
		page := func(login string) string {
			b := x.Server.NewBrowser(t)
			return structure(x.RecoverStart(t, b, "", login).Body)
		}
		want := page(pt.Username)
		for _, login := range []string{"nobody-at-all", "someone.else@example.org", "carol"} {
			if got := page(login); got != want {
				t.Fatalf("%s: method page differs:\n%s\nvs\n%s", login, got, want)
			}
		}
	})
}

// A decoy's push meets the push-bombing limits (and the fraud-report
// block) a real account's push meets: the same sequence of "sent" and
// "too many" for a real user and an unknown name, and its audit trail
// has the same rows.
func TestDecoyPushMeetsBombingLimits(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "US", "push")
		x.EnrollPush(t, "test phone")
		outcomes := func(login string) []string {
			var out []string
			for range push.PerWindow + 1 {
				b := x.Server.NewBrowser(t)
				methods := x.RecoverStart(t, b, "", login)
				r := b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "notification")})
				switch {
				case r.Page == nil:
					out = append(out, "no page")
				case strings.Contains(r.Page.Body, "I approved it, continue"):
					out = append(out, "sent")
				case strings.Contains(r.Page.Body, "Too many"):
					out = append(out, "limited")
				default:
					out = append(out, fmt.Sprintf("other %d", r.Page.Status))
				}
			}
			return out
		}
		real := outcomes(pt.Username)
		decoy := outcomes("nobody-at-all")
		if !slices.Equal(real, decoy) || real[len(real)-1] != "limited" {
			t.Fatalf("pushes: real %v, decoy %v; want the same, ending limited", real, decoy)
		}
	})
}
