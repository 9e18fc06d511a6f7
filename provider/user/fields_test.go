package user_test

import (
	"errors"
	"slices"
	"testing"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/user"
)

// Create and UpdateProfile name every invalid field at once (the admin
// API lists them all), each an ErrInvalid; valid new fields are stored.
func TestEveryFieldProblemAtOnce(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		str := func(s string) *string { return &s }
		tests := []struct {
			name string
			err  error
			want []string
		}{
			{"create", f.s.Validate(user.NewUser{Username: "ali\u200bce", Email: "no", Phone: "555", Locale: "x y",
				GivenName: "bad\x00", DisplayName: "ok"}), []string{"username", "email", "phone", "given_name", "locale"}},
			{"create-ok", f.s.Validate(user.NewUser{Username: "dana", Email: "dana@example.org", Locale: "pt-BR"}), nil},
			{"update", f.s.UpdateProfile(ctx, f.alice.ID, user.Profile{Email: str("@"), Phone: str("1"), DisplayName: str(""),
				FamilyName: str("x\x07"), Locale: str("-")}), []string{"name", "email", "family_name", "locale", "phone"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var got []string
				for _, fe := range user.Fields(tc.err) {
					got = append(got, fe.Field)
				}
				if !slices.Equal(got, tc.want) || (tc.want != nil && !errors.Is(tc.err, user.ErrInvalid)) {
					t.Fatalf("fields %v (%v), want %v", got, tc.err, tc.want)
				}
			})
		}
		if u, _ := f.s.ByID(ctx, f.alice.ID); u.Email != f.alice.Email {
			t.Fatal("an invalid update changed the email address")
		}
		u, err := f.s.Create(ctx, user.NewUser{Username: "erin", Email: "erin@example.org", GivenName: "Erin", FamilyName: "Example", Locale: "de"})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.s.UpdateProfile(ctx, u.ID, user.Profile{FamilyName: str(""), Locale: str("fr")}); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.s.ByID(ctx, u.ID); got.GivenName != "Erin" || got.FamilyName != "" || got.Locale != "fr" {
			t.Fatalf("stored %q %q %q", got.GivenName, got.FamilyName, got.Locale)
		}
	})
}
