package phone_test

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/plugin/sender/twilio"
	"github.com/latchkeyid/latchkey/plugin/sender/twilio/twiliotest"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/ui"
)

// The registration page: a country selector limited to the allowlist with
// the deployment's region preselected, an extension field only for the
// office phone, the text-or-call choice only for the mobile phone, and the
// note on the risk of phone codes.
func TestRegistrationForm(t *testing.T) {
	r, err := ui.New()
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := secret.Parse(secret.Generate())
	cl, err := twilio.New(twiliotest.New(t).Config())
	if err != nil {
		t.Fatal(err)
	}
	guard := phone.NewGuard(nil, noLimits, "GB", phone.WithCountries(func(context.Context) ([]string, error) {
		return []string{"US", "GB", "IE"}, nil
	}))
	tests := []struct {
		name          method.Name
		wantExtension bool
		wantChoice    bool
	}{
		{method.Mobile, false, true},
		{method.AlternatePhone, false, false},
		{method.OfficePhone, true, false},
	}
	for _, tc := range tests {
		t.Run(string(tc.name), func(t *testing.T) {
			m, err := phone.New(tc.name, phone.Deps{Codes: method.NewCodes(nil, keys), Keys: keys, Guard: guard,
				SMS: cl.SMS(), Voice: cl.Voice(), DefaultRegion: "GB"})
			if err != nil {
				t.Fatal(err)
			}
			data, err := m.FormData(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			maps.Copy(data, map[string]any{"Title": "Phone", "Action": "/security-info/add/" + string(tc.name), "CSRF": "tok",
				"Error": `<script>alert(1)</script>`})
			var b strings.Builder
			if err := r.Render(&b, nil, "security-info-add-phone", data); err != nil {
				t.Fatal(err)
			}
			page := b.String()
			for _, want := range []string{`<option value="GB" selected>United Kingdom (&#43;44)</option>`, `<option value="IE">Ireland (&#43;353)</option>`,
				`name="phone"`, `name="csrf" value="tok"`, "can be intercepted", "&lt;script&gt;"} {
				if !strings.Contains(page, want) {
					t.Fatalf("page lacks %q:\n%s", want, page)
				}
			}
			if strings.Contains(page, `value="FR"`) || strings.Contains(page, "<script>alert") {
				t.Fatal("country outside the allowlist offered, or error not escaped")
			}
			if got := strings.Contains(page, `name="extension"`); got != tc.wantExtension {
				t.Fatalf("extension field shown = %v", got)
			}
			if got := strings.Contains(page, `name="channel" value="voice"`); got != tc.wantChoice {
				t.Fatalf("text-or-call choice shown = %v", got)
			}
			// The code step.
			b.Reset()
			data["Flow"], data["Prompt"] = "flow-1", method.Prompt{Kind: "code", Destination: "+44 ••• ••• ••56", Digits: 8}
			if err := r.Render(&b, nil, "security-info-add-phone", data); err != nil {
				t.Fatal(err)
			}
			if page := b.String(); !strings.Contains(page, "&#43;44 ••• ••• ••56") || !strings.Contains(page, `name="code"`) || strings.Contains(page, `name="phone"`) {
				t.Fatalf("code step:\n%s", page)
			}
		})
	}
}

func TestMethods(t *testing.T) {
	keys, _ := secret.Parse(secret.Generate())
	cl, err := twilio.New(twiliotest.New(t).Config())
	if err != nil {
		t.Fatal(err)
	}
	codes := method.NewCodes(nil, keys)
	tests := []struct {
		name       string
		sms, voice bool
		want       []method.Name
	}{
		{"sms-and-voice", true, true, []method.Name{method.Mobile, method.AlternatePhone, method.OfficePhone}},
		{"sms-only", true, false, []method.Name{method.Mobile}},
		{"voice-only", false, true, []method.Name{method.Mobile, method.AlternatePhone, method.OfficePhone}},
		{"none", false, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := phone.Setup{DefaultRegion: "US"}
			if tc.sms {
				s.SMS = cl.SMS()
			}
			if tc.voice {
				s.Voice = cl.Voice()
			}
			ms, g, err := phone.Methods(codes, keys, nil, s)
			if tc.want == nil {
				if err == nil {
					t.Fatal("methods without any sender")
				}
				return
			}
			if err != nil || g == nil || len(ms) != len(tc.want) {
				t.Fatalf("Methods = %v, %v, %v", ms, g, err)
			}
			for i, m := range ms {
				if m.Name() != tc.want[i] {
					t.Fatalf("method %d = %s, want %s", i, m.Name(), tc.want[i])
				}
			}
			if _, err := method.NewRegistry(ms...); err != nil {
				t.Fatal(err)
			}
		})
	}
}
