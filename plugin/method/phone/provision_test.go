package phone_test

import (
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/methodtest"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// A number an administrator provisions is stored as Finish stores one:
// Target opens it and Challenge sends its code there (the office
// extension dialled). Provisioning calls no gateway, issues no code and
// counts against no limit.
func TestProvision(t *testing.T) {
	dbtest.EachDB(t, sets, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, phone.DefaultLimits)
		ctx := t.Context()
		tests := []struct {
			name  string
			m     method.Name
			in    method.Input
			e164  string
			ext   string
			label string
		}{
			{"mobile-e164", method.Mobile, method.Input{"phone": "+1 201-555-0123"}, "+12015550123", "", "+1 ••• ••• ••23"},
			{"mobile-national-default-region", method.Mobile, method.Input{"phone": "(201) 555-0124"}, "+12015550124", "", ""},
			{"mobile-national-with-country", method.Mobile, method.Input{"phone": "07400 123456", "country": "GB"}, "+447400123456", "", ""},
			{"alternate-landline", method.AlternatePhone, method.Input{"phone": "+44 121 234 5678"}, "+441212345678", "", ""},
			{"office-with-extension", method.OfficePhone, method.Input{"phone": "+1 201 555 0125", "extension": "12-34"}, "+12015550125", "1234", ""},
			{"office-without-extension", method.OfficePhone, method.Input{"phone": "+1 201 555 0126"}, "+12015550126", "", ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				m := f.m[tc.m]
				before, calls := methodtest.SendRows(t, g), f.srv.Requests()
				e, err := m.Provision(ctx, "u-"+tc.name, tc.in)
				if after := methodtest.SendRows(t, g); after != before || f.srv.Requests() != calls {
					t.Fatalf("Provision sent or counted: rows %v then %v, %d gateway requests", before, after, f.srv.Requests()-calls)
				}
				if err != nil {
					t.Fatalf("Provision(%v) = %v", tc.in, err)
				}
				n, _ := phone.ParseE164(tc.e164)
				if e.ID == "" || e.UserID != "u-"+tc.name || e.Method != tc.m || e.Label != n.Masked() ||
					e.DestinationKey != m.DestinationKey(tc.e164) || strings.Contains(string(e.Data), tc.e164[1:]) {
					t.Fatalf("enrollment %+v", e)
				}
				if tc.label != "" && e.Label != tc.label {
					t.Fatalf("label %q, want %q", e.Label, tc.label)
				}
				tg, err := m.Target(e)
				if err != nil || tg.Number.E164 != tc.e164 || tg.Extension != tc.ext {
					t.Fatalf("Target = %+v, %v; want %s ext %q", tg, err, tc.e164, tc.ext)
				}
				if err := f.store.Add(ctx, &e, 0); err != nil {
					t.Fatal(err)
				}
				u := ref(e.UserID)
				c, err := m.Challenge(ctx, "flow", u, e)
				if err != nil {
					t.Fatalf("Challenge on the provisioned number: %v", err)
				}
				if tc.m != method.Mobile {
					calls := f.srv.Calls()
					if last := calls[len(calls)-1]; last.To != tc.e164 || strings.TrimLeft(last.SendDigits, "w") != tc.ext {
						t.Fatalf("call to %s digits %q; want %s %q", last.To, last.SendDigits, tc.e164, tc.ext)
					}
				}
				res, err := m.Verify(ctx, "flow", u, e, c, method.Input{"code": f.srv.Code(tc.e164)})
				if err != nil || !res.OK {
					t.Fatalf("Verify = %+v, %v", res, err)
				}
			})
		}
		if _, err := f.m[method.Mobile].Provision(ctx, "", method.Input{"phone": "+12015550129"}); err == nil {
			t.Fatal("Provision without a user succeeded")
		}
	})
}
