package phone_test

import (
	"errors"
	"testing"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/plugin/sender/twilio/twiliotest"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// Checklist 51 with the policy's phone_countries, through the Security
// info page: a German number is refused (and never called) while the
// allowlist is the deployment's region; once the admin adds DE, the page
// offers Germany and the same number gets its code; removing DE again
// stops sends to the number registered meanwhile.
func TestEndToEndCountryAllowlistFromPolicy(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		x := startE2E(t, dbURL)
		ctx := t.Context()
		x.enroll(t, method.Mobile, method.Input{"phone": "+12015550106"}, "+12015550106")
		rp := x.s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := x.s.NewBrowser(t)
		if res := b.SignIn(mustPage(t, b.Get(rp.Start().URL), "Sign in"), pt.Username, pt.Password); res.Redirect == nil {
			t.Fatalf("sign-in: %s", res)
		}
		info := mustPage(t, b.Get(x.s.URL+"/security-info"), "Before you view or change your security info")
		id, _ := info.Doc.Find(`input[name="enrollment"]`).First().Attr("value")
		code := mustPage(t, b.Submit(info, "form", map[string]string{"enrollment": id}), "We sent a code")
		mustPage(t, b.Submit(code, "form", map[string]string{"code": x.gw.SMSCode("+12015550106")}), "Add sign-in method")

		const berlin, berlinE164 = "+49 30 12345678", "+493012345678"
		add := mustPage(t, b.Get(x.s.URL+"/security-info/add/office-phone"), "Add Office phone")
		if add.Doc.Find(`option[value="DE"]`).Length() != 0 {
			t.Fatal("Germany offered before the policy allows it")
		}
		before := x.gw.Requests()
		add = mustPage(t, b.Submit(add, "form", map[string]string{"phone": berlin, "country": "US"}), "country")
		if x.gw.Requests() != before {
			t.Fatal("a number outside the allowlist was called")
		}

		pol, err := x.policy.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pol.PhoneCountries = []string{"US", "DE"}
		if err := x.policy.Set(ctx, pol); err != nil {
			t.Fatal(err)
		}
		add = mustPage(t, b.Get(x.s.URL+"/security-info/add/office-phone"), "Add Office phone")
		if add.Doc.Find(`option[value="DE"]`).Length() != 1 {
			t.Fatalf("Germany not offered once allowed:\n%s", add.Body)
		}
		sent := mustPage(t, b.Submit(add, "form", map[string]string{"phone": berlin, "country": "DE"}), "We sent a code")
		calls := x.gw.Calls()
		if last := calls[len(calls)-1]; last.To != berlinE164 {
			t.Fatalf("registration call %+v", last)
		} else {
			mustPage(t, b.Submit(sent, "form", map[string]string{"code": twiliotest.SpokenCode(last)}), "Office phone")
		}
		ms, err := x.store.List(ctx, x.s.User.ID)
		if err != nil || len(ms) != 2 || ms[1].Method != method.OfficePhone {
			t.Fatalf("enrollments %+v %v", ms, err)
		}

		// The allowlist also guards sends to numbers registered earlier.
		pol.PhoneCountries = nil
		if err := x.policy.Set(ctx, pol); err != nil {
			t.Fatal(err)
		}
		before = x.gw.Requests()
		if _, err := x.m[method.OfficePhone].Challenge(ctx, "flow", method.Ref{ID: x.s.User.ID, Username: pt.Username}, ms[1]); !errors.Is(err, phone.ErrCountry) {
			t.Fatalf("Challenge to a German number after DE was removed: %v, want %v", err, phone.ErrCountry)
		}
		if x.gw.Requests() != before {
			t.Fatal("the gateway was called for a country no longer allowed")
		}
	})
}
