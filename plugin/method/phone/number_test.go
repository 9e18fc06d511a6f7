package phone_test

import (
	"errors"
	"testing"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// Checklist 50: numbers are stored in E.164; premium-rate, shared-cost,
// pager, UAN and unknown-type numbers (and personal and voicemail numbers)
// are refused at registration.
func TestParse(t *testing.T) {
	tests := []struct {
		name, typed, country, def string
		uses                      phone.Uses
		allowed                   []string
		want                      string // E.164; "" = refused
		field                     string // the field blamed when refused
	}{
		{"international", "+1 201-555-0123", "", "US", phone.Texts, nil, "+12015550123", ""},
		{"national-with-selector", "(201) 555-0123", "US", "GB", phone.Texts, nil, "+12015550123", ""},
		{"national-default-region", "(201) 555-0123", "", "US", phone.Texts, nil, "+12015550123", ""},
		{"national-default-region-gb", "07400 123456", "", "GB", phone.Texts, nil, "+447400123456", ""},
		{"selector-lowercase", "07400 123456", "gb", "US", phone.Texts, nil, "+447400123456", ""},
		{"plus-wins-over-selector", "+44 7400 123456", "US", "US", phone.Texts, nil, "+447400123456", ""},
		{"double-zero-prefix", "0044 7400 123456", "US", "US", phone.Texts, nil, "+447400123456", ""},
		{"landline-for-calls", "+44 121 234 5678", "", "US", phone.Calls, nil, "+441212345678", ""},
		{"toll-free-for-calls", "+1 800 234 5678", "", "US", phone.Calls, nil, "+18002345678", ""},
		{"voip-for-calls", "+44 56 1234 5678", "", "US", phone.Calls, nil, "+445612345678", ""},
		{"allowed-country", "+447400123456", "", "US", phone.Texts, []string{"US", "GB"}, "+447400123456", ""},

		{"landline-for-texts", "+44 121 234 5678", "", "US", phone.Texts, nil, "", "phone"},
		{"toll-free-for-texts", "+1 800 234 5678", "", "US", phone.Texts, nil, "", "phone"},
		{"premium-rate-us", "+1 900 234 5678", "", "US", phone.Calls, nil, "", "phone"},
		{"premium-rate-gb", "+44 901 234 5678", "", "US", phone.Calls, nil, "", "phone"},
		{"shared-cost-fr", "+33 8 84 01 23 45", "", "US", phone.Calls, nil, "", "phone"},
		{"shared-cost-de", "+49 180 12345", "", "US", phone.Calls, nil, "", "phone"},
		{"pager-gb", "+44 7640 123456", "", "US", phone.Calls, nil, "", "phone"},
		{"uan-gb", "+44 55 1234 5678", "", "US", phone.Calls, nil, "", "phone"},
		{"uan-fr", "+33 8 06 12 34 56", "", "US", phone.Calls, nil, "", "phone"},
		{"personal-gb", "+44 70 1234 5678", "", "US", phone.Calls, nil, "", "phone"},
		{"personal-us", "+1 500 234 5678", "", "US", phone.Calls, nil, "", "phone"},
		{"voicemail-de", "+49 177 991234567", "", "US", phone.Calls, nil, "", "phone"},
		{"unknown-invalid", "+1 555 555 5555", "", "US", phone.Calls, nil, "", "phone"},
		{"too-short", "12345", "", "US", phone.Calls, nil, "", "phone"},
		{"letters", "call me maybe", "", "US", phone.Calls, nil, "", "phone"},
		{"empty", "  ", "", "US", phone.Calls, nil, "", "phone"},
		{"too-long", "+1 201 555 0123 0000000000000000000000000000", "", "US", phone.Calls, nil, "", "phone"},
		{"trailing-newline-trimmed", "+12015550123\n", "", "US", phone.Calls, nil, "+12015550123", ""},
		{"embedded-newline", "+1201\n5550123", "", "US", phone.Calls, nil, "", "phone"},
		{"extension-in-number", "+1 201 555 0123 ext. 12", "", "US", phone.Calls, nil, "", "phone"},
		{"unknown-country", "2015550123", "XX", "US", phone.Calls, nil, "", "country"},
		{"country-not-allowed", "+447400123456", "", "US", phone.Texts, []string{"US"}, "", "phone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := phone.Parse(tc.typed, tc.country, tc.def, tc.uses, tc.allowed)
			if tc.want != "" {
				if err != nil {
					t.Fatalf("Parse(%q) = %v", tc.typed, err)
				}
				if n.E164 != tc.want {
					t.Fatalf("Parse(%q) = %s, want %s", tc.typed, n.E164, tc.want)
				}
				return
			}
			var ie *method.InvalidError
			if !errors.As(err, &ie) || ie.Field != tc.field || ie.Reason(i18n.English()) == ie.Key {
				t.Fatalf("Parse(%q) = %+v, %v; want invalid %s", tc.typed, n, err, tc.field)
			}
		})
	}
}

func TestMaskedAndDialCode(t *testing.T) {
	for e164, want := range map[string]string{
		"+12015550142":  "+1 ••• ••• ••42",
		"+447400123456": "+44 ••• ••• ••56",
		"+33612345678":  "+33 ••• ••• ••78",
		"+35312345678":  "+353 ••• ••• ••78",
	} {
		n, err := phone.ParseE164(e164)
		if err != nil {
			t.Fatal(err)
		}
		if n.Masked() != want || n.E164 != e164 {
			t.Errorf("%s: masked %q, want %q", e164, n.Masked(), want)
		}
	}
	if _, err := phone.ParseE164("2015550142"); err == nil {
		t.Error("a stored number without + parsed")
	}
}

// Checklist 53: an office extension is digits only, at most 10.
func TestParseExtension(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"", "", true},
		{"1234", "1234", true},
		{" 12-34 ", "1234", true},
		{"0123456789", "0123456789", true},
		{"01234567890", "", false},
		{"12a", "", false},
		{"12#", "", false},
		{"*12", "", false},
		{"ww12", "", false},
		{"１２", "", false},
		{"12,3", "", false},
	}
	for _, tc := range tests {
		got, err := phone.ParseExtension(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseExtension(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, method.ErrInvalid) {
			t.Errorf("ParseExtension(%q): %v is not ErrInvalid", tc.in, err)
		}
	}
}

func TestCountries(t *testing.T) {
	cs := phone.Countries([]string{"US", "GB", "DE", "XX"})
	want := []phone.Country{{"DE", "Germany", "+49"}, {"GB", "United Kingdom", "+44"}, {"US", "United States", "+1"}}
	if len(cs) != len(want) {
		t.Fatalf("countries = %+v", cs)
	}
	for i := range want {
		if cs[i] != want[i] {
			t.Fatalf("countries = %+v, want %+v", cs, want)
		}
	}
	if all := phone.Countries(nil); len(all) < 200 {
		t.Fatalf("only %d countries without an allowlist", len(all))
	}
}
