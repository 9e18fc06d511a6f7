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
		x.EnrollPhone(t, method.Mobile, method.Input{"phone": "+12015550106"}, "+12015550106")
		b := x.SignIn(t)
		stepUpBySMS(t, x, b, "+12015550106")

		const berlin, berlinE164 = "+49 30 12345678", "+493012345678"
		add := mustPage(t, b.Get(x.Server.URL+"/security-info/add/office-phone"), "Add Office phone")
		if add.Doc.Find(`option[value="DE"]`).Length() != 0 {
			t.Fatal("Germany offered before the policy allows it")
		}
		before := x.Gateway.Requests()
		add = mustPage(t, b.Submit(add, "form", map[string]string{"phone": berlin, "country": "US"}), "country")
		if x.Gateway.Requests() != before {
			t.Fatal("a number outside the allowlist was called")
		}

		pol, err := x.Policy.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pol.PhoneCountries = []string{"US", "DE"}
		if err := x.Policy.Set(ctx, pol); err != nil {
			t.Fatal(err)
		}
		add = mustPage(t, b.Get(x.Server.URL+"/security-info/add/office-phone"), "Add Office phone")
		if add.Doc.Find(`option[value="DE"]`).Length() != 1 {
			t.Fatalf("Germany not offered once allowed:\n%s", add.Body)
		}
		sent := mustPage(t, b.Submit(add, "form", map[string]string{"phone": berlin, "country": "DE"}), "We sent a code")
		calls := x.Gateway.Calls()
		if last := calls[len(calls)-1]; last.To != berlinE164 {
			t.Fatalf("registration call %+v", last)
		} else {
			mustPage(t, b.Submit(sent, "form", map[string]string{"code": twiliotest.SpokenCode(last)}), "Office phone")
		}
		ms, err := x.Store.List(ctx, x.Server.User.ID)
		if err != nil || len(ms) != 2 || ms[1].Method != method.OfficePhone {
			t.Fatalf("enrollments %+v %v", ms, err)
		}

		// The allowlist also guards sends to numbers registered earlier.
		pol.PhoneCountries = nil
		if err := x.Policy.Set(ctx, pol); err != nil {
			t.Fatal(err)
		}
		before = x.Gateway.Requests()
		if _, err := x.Phones[method.OfficePhone].Challenge(ctx, "flow", method.Ref{ID: x.Server.User.ID, Username: pt.Username}, ms[1]); !errors.Is(err, phone.ErrCountry) {
			t.Fatalf("Challenge to a German number after DE was removed: %v, want %v", err, phone.ErrCountry)
		}
		if x.Gateway.Requests() != before {
			t.Fatal("the gateway was called for a country no longer allowed")
		}
	})
}
