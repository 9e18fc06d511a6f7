package policy_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

func TestDefault(t *testing.T) {
	p := policy.Default([]string{"email", "totp"})
	if p.Scope != policy.ScopeAll || p.Required != 1 || p.Enabled(policy.Questions) || p.CoolDownHours != 24 ||
		p.PushReportBlock() != time.Hour || len(p.PhoneCountries) != 0 {
		t.Fatalf("default %+v", p)
	}
	if !p.Enabled("email") || !p.Enabled("totp") || p.Enabled("mobile") {
		t.Fatalf("methods %v: want email+totp only (no phone sender configured)", p.Methods)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	// Everything deliverable: the app both ways, phone and email; never
	// questions or the voice-only phones by default.
	all := policy.Default(policy.Known)
	if !slices.Equal(all.Methods, []string{"totp", "push", "mobile", "email"}) {
		t.Fatalf("default methods with every sender: %v", all.Methods)
	}
}

func TestValidate(t *testing.T) {
	ok := policy.Default([]string{"email", "totp"})
	tests := []struct {
		name   string
		change func(p *policy.Policy)
		want   string // substring of the error, "" = valid
	}{
		{"default", func(p *policy.Policy) {}, ""},
		{"bad-scope", func(p *policy.Policy) { p.Scope = "some" }, "scope"},
		{"group-without-name", func(p *policy.Policy) { p.Scope = policy.ScopeGroup }, "group name"},
		{"group-scope", func(p *policy.Policy) { p.Scope, p.Group = policy.ScopeGroup, "staff" }, ""},
		{"required-three", func(p *policy.Policy) { p.Required = 3 }, "required"},
		{"unknown-method", func(p *policy.Policy) { p.Methods = []string{"email", "pigeon"} }, "pigeon"},
		{"duplicate-method", func(p *policy.Policy) { p.Methods = []string{"email", "email"} }, "twice"},
		{"questions-alone", func(p *policy.Policy) { p.Methods = []string{"questions"} }, "possession"},
		{"ask-more-than-registered", func(p *policy.Policy) { p.QuestionsRegister, p.QuestionsAsk = 3, 4 }, "cannot exceed"},
		{"register-six", func(p *policy.Policy) { p.QuestionsRegister = 6 }, "questions_register"},
		{"negative-skips", func(p *policy.Policy) { p.MaxSkips = -1 }, "max_skips"},
		{"reconfirm-too-long", func(p *policy.Policy) { p.ReconfirmDays = 9999 }, "reconfirm_days"},
		{"helpdesk-javascript", func(p *policy.Policy) { p.HelpdeskURL = "javascript:alert(1)" }, "helpdesk_url"},
		{"helpdesk-https", func(p *policy.Policy) { p.HelpdeskURL = "https://help.example.com/it" }, ""},
		{"helpdesk-mailto", func(p *policy.Policy) { p.HelpdeskURL = "mailto:it@example.com" }, ""},
		{"phone-countries", func(p *policy.Policy) { p.PhoneCountries = []string{"US", "DE", "GB"} }, ""},
		{"phone-country-lower-case", func(p *policy.Policy) { p.PhoneCountries = []string{"de"} }, `"de" is not an upper-case`},
		{"phone-country-three-letters", func(p *policy.Policy) { p.PhoneCountries = []string{"DEU"} }, `"DEU" is not an upper-case`},
		{"phone-country-unknown", func(p *policy.Policy) { p.PhoneCountries = []string{"ZZ"} }, `"ZZ" is not a region`},
		{"phone-country-twice", func(p *policy.Policy) { p.PhoneCountries = []string{"FR", "FR"} }, `"FR" listed twice`},
		{"report-block-off", func(p *policy.Policy) { p.PushReportBlockMinutes = 0 }, ""},
		{"report-block-week", func(p *policy.Policy) { p.PushReportBlockMinutes = policy.MaxPushReportBlockMinutes }, ""},
		{"report-block-negative", func(p *policy.Policy) { p.PushReportBlockMinutes = -1 }, "push_report_block_minutes"},
		{"report-block-too-long", func(p *policy.Policy) { p.PushReportBlockMinutes = policy.MaxPushReportBlockMinutes + 1 }, "push_report_block_minutes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok
			p.Methods = append([]string(nil), ok.Methods...)
			tt.change(&p)
			err := p.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate = %v, want error mentioning %q", err, tt.want)
			}
		})
	}
	t.Run("reports-every-problem", func(t *testing.T) {
		p := ok
		p.Scope, p.Required, p.MaxSkips = "x", 0, -1
		p.PhoneCountries, p.PushReportBlockMinutes = []string{"XX", "usa"}, -5
		err := p.Validate()
		for _, w := range []string{"scope", "required", "max_skips", `"XX"`, `"usa"`, "push_report_block_minutes"} {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("error %v does not mention %s", err, w)
			}
		}
	})
}

// TestSatisfied covers checklist C23, C24 and C27.
func TestSatisfied(t *testing.T) {
	email := policy.Proof{Method: "email", Channel: "email"}
	email2 := policy.Proof{Method: "email", Channel: "email"} // a second address
	totp := policy.Proof{Method: "totp", Channel: "app"}
	push := policy.Proof{Method: "push", Channel: "app"}
	questions := policy.Proof{Method: "questions", Channel: "knowledge"}
	sms := policy.Proof{Method: "mobile", Channel: "phone"}

	all := policy.Default([]string{"email", "totp", "mobile"})
	all.Methods = append(all.Methods, "questions", "push")
	two := all
	two.Required = 2
	noQ := two
	noQ.Methods = []string{"email", "totp"}

	tests := []struct {
		name          string
		p             policy.Policy
		admin, hasApp bool
		proofs        []policy.Proof
		want          bool
	}{
		{"one-email", all, false, false, []policy.Proof{email}, true},
		{"nothing", all, false, false, nil, false},
		{"questions-alone-never", all, false, false, []policy.Proof{questions}, false},
		{"two-email-plus-questions", two, false, false, []policy.Proof{email, questions}, true},
		{"two-email-proofs-count-once", two, false, false, []policy.Proof{email, email2}, false},
		{"totp-and-push-same-app-count-once", two, false, false, []policy.Proof{totp, push}, false},
		{"email-and-sms", two, false, false, []policy.Proof{email, sms}, true},
		{"questions-twice-count-once", two, false, false, []policy.Proof{questions, questions, email}, true},
		{"questions-disabled-do-not-count", noQ, false, false, []policy.Proof{email, questions}, false},
		{"admin-needs-two", all, true, false, []policy.Proof{email}, false},
		{"admin-questions-do-not-count", all, true, false, []policy.Proof{email, questions}, false},
		{"admin-two-channels", all, true, false, []policy.Proof{email, totp}, true},
		{"mfa-user-email-alone-not-enough", all, false, true, []policy.Proof{email}, false},
		{"mfa-user-app-alone-enough", all, false, true, []policy.Proof{totp}, true},
		{"mfa-user-email-and-sms", all, false, true, []policy.Proof{email, sms}, true},
		{"disabled-method-ignored", noQ, false, false, []policy.Proof{sms}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Satisfied(tt.admin, tt.hasApp, tt.proofs); got != tt.want {
				t.Fatalf("Satisfied = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStore(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		s := policy.NewStore(g, policy.Default([]string{"email"}))
		p, err := s.Get(t.Context())
		if err != nil || p.Required != 1 {
			t.Fatalf("defaults: %+v %v", p, err)
		}
		p.Required, p.HelpdeskURL = 2, "https://help.example.com"
		if err := s.Set(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		p.Required = 5
		if err := s.Set(t.Context(), p); err == nil {
			t.Fatal("invalid policy stored")
		}
		got, err := s.Get(t.Context())
		if err != nil || got.Required != 2 || got.HelpdeskURL != "https://help.example.com" {
			t.Fatalf("stored %+v %v", got, err)
		}
		got.PhoneCountries, got.PushReportBlockMinutes = []string{"DE", "US"}, 0
		if err := s.Set(t.Context(), got); err != nil {
			t.Fatal(err)
		}
		if got, err = s.Get(t.Context()); err != nil || !slices.Equal(got.PhoneCountries, []string{"DE", "US"}) || got.PushReportBlockMinutes != 0 {
			t.Fatalf("stored %+v %v", got, err)
		}
		// A body stored before the phone and push fields keeps their defaults.
		if err := g.Model(&policy.Row{}).Where("id = 1").Update("body", `{"scope":"all","methods":["email"],"required":1}`).Error; err != nil {
			t.Fatal(err)
		}
		if got, err = s.Get(t.Context()); err != nil || got.PhoneCountries == nil || len(got.PhoneCountries) != 0 ||
			got.PushReportBlockMinutes != policy.DefaultPushReportBlockMinutes {
			t.Fatalf("old body read as %+v %v", got, err)
		}
	})
}

func TestApply(t *testing.T) {
	base := policy.Default([]string{"email", "totp"})
	got, err := policy.Apply(base, []string{"required=2", "methods=email, totp,questions", "cooldown-hours=12", "notify_admins=false"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Required != 2 || len(got.Methods) != 3 || got.CoolDownHours != 12 || got.NotifyAdmins {
		t.Fatalf("applied %+v", got)
	}
	if base.Required != 1 || len(base.Methods) != 2 {
		t.Fatal("Apply changed its input")
	}
	got, err = policy.Apply(base, []string{"phone_countries=de, at ,CH", "push-report-block-minutes=0"})
	if err != nil || !slices.Equal(got.PhoneCountries, []string{"DE", "AT", "CH"}) || got.PushReportBlock() != 0 {
		t.Fatalf("applied %+v, %v", got, err)
	}
	if got, err = policy.Apply(got, []string{"phone_countries="}); err != nil || len(got.PhoneCountries) != 0 {
		t.Fatalf("emptied %+v, %v", got.PhoneCountries, err)
	}
	for _, bad := range [][]string{{"required"}, {"required=two"}, {"colour=blue"}, {"required=3"}, {"notify_user=maybe"},
		{"phone_countries=DE,XX"}, {"phone_countries=Germany"}, {"push_report_block_minutes=soon"}, {"push_report_block_minutes=20000"}} {
		if _, err := policy.Apply(base, bad); err == nil {
			t.Errorf("Apply(%q) accepted", bad)
		}
	}
}

func TestPhoneAllowlist(t *testing.T) {
	p := policy.Default(nil)
	if got := p.PhoneAllowlist("de"); !slices.Equal(got, []string{"DE"}) {
		t.Fatalf("empty list: %v, want the deployment's region", got)
	}
	p.PhoneCountries = []string{"FR", "BE"}
	got := p.PhoneAllowlist("DE")
	if !slices.Equal(got, []string{"FR", "BE"}) {
		t.Fatalf("allowlist %v", got)
	}
	got[0] = "XX"
	if p.PhoneCountries[0] != "FR" {
		t.Fatal("PhoneAllowlist shares the policy's slice")
	}
}
