package policy

import "testing"

// TestStandingOf: what registration shows is what Satisfied accepts.
func TestStandingOf(t *testing.T) {
	p := Default([]string{TOTP, Push, Mobile, Email})
	p.Methods = append(p.Methods, Questions)
	q := Proof{Method: Questions, Channel: Knowledge}
	mail := Proof{Method: Email, Channel: "email"}
	app := Proof{Method: TOTP, Channel: "app"}
	phone := Proof{Method: Mobile, Channel: "phone"}
	for _, tc := range []struct {
		name     string
		admin    bool
		reg      []Proof
		want     Standing
		required int
	}{
		{"questions-alone", false, []Proof{q}, Standing{Counted: 0, Needed: 1, QuestionsOnly: true}, 1},
		{"questions-beside-email", false, []Proof{q, mail}, Standing{Counted: 2, Needed: 1, Enough: true}, 1},
		{"two-emails-one-channel", false, []Proof{mail, mail}, Standing{Counted: 1, Needed: 2}, 2},
		{"app-alone", false, []Proof{app}, Standing{Counted: 1, Needed: 1, Enough: true, AppRule: true}, 1},
		{"app-and-phone", false, []Proof{app, phone}, Standing{Counted: 2, Needed: 1, Enough: true, AppRule: true}, 1},
		{"admin-questions-do-not-count", true, []Proof{q, mail}, Standing{Counted: 1, Needed: 2}, 1},
		{"admin-app-and-mail", true, []Proof{app, mail}, Standing{Counted: 2, Needed: 2, Enough: true}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.Required = tc.required
			if got := p.StandingOf(tc.admin, tc.reg); got != tc.want {
				t.Errorf("StandingOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}
