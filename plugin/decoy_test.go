package plugin_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// TestDecoyShapes: decoy lists are stable per name, look like real lists
// (masked email, authenticator app) and come in both sizes across names.
func TestDecoyShapes(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		sizes := map[int]bool{}
		// 24 names: with a fresh key per test, all of one size has
		// probability 2^-23.
		names := []string{"ines@example.net"}
		for i := range 23 {
			names = append(names, "person"+string(rune('a'+i)))
		}
		for _, name := range names {
			b := e.browser()
			fp := b.start(name, "")
			b.post(fp, url.Values{"intent": {"reset"}})
			opts := b.options()
			sizes[len(opts)] = true
			for _, o := range opts {
				if len(o[0]) != 26 {
					t.Errorf("%s: decoy id %q not shaped like a real one", name, o[0])
				}
				if strings.Contains(o[1], "@") && !strings.Contains(o[1], "•••") {
					t.Errorf("%s: unmasked decoy address %q", name, o[1])
				}
			}
		}
		if !sizes[1] || !sizes[2] {
			t.Errorf("decoy list sizes %v: want both 1 and 2", sizes)
		}
	})
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
	pushNumber = regexp.MustCompile(`<strong>\d{2}</strong>`)
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
		mustPage(t, b.Submit(code, `form[action$="/verify"]`, map[string]string{"code": "12345678"}), "That did not work")
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
