package email_test

import (
	"errors"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/email"
	"github.com/latchkeyid/latchkey/plugin/method/methodtest"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/ui/mail"
)

// An address an administrator provisions is stored as Finish stores one:
// Address opens it and Challenge sends its code there. Provisioning itself
// queues nothing, issues no code and counts against no limit.
func TestProvision(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, email.WithLimiter(ratelimit.New(g), email.DefaultLimits))
		ctx := t.Context()
		tests := []struct {
			name, user, typed, want, label string
		}{
			{"plain", "u1", "alice@example.com", "alice@example.com", "a•••e@example.com"},
			{"spaces-trimmed-case-kept", "u2", "  Bob.Smith@Example.com ", "Bob.Smith@Example.com", ""},
			{"plus-address", "u3", "carol+recovery@mail.example.org", "carol+recovery@mail.example.org", ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				before := methodtest.SendRows(t, g)
				e, err := f.m.Provision(ctx, tc.user, method.Input{email.FieldAddress: tc.typed})
				if after := methodtest.SendRows(t, g); after != before {
					t.Fatalf("Provision wrote codes or send counts: %v, then %v", before, after)
				}
				if err != nil {
					t.Fatalf("Provision(%q) = %v", tc.typed, err)
				}
				if e.ID == "" || e.UserID != tc.user || e.Method != method.Email || e.Label != method.MaskEmail(tc.want) ||
					e.DestinationKey != f.m.DestinationKey(tc.want) || strings.Contains(string(e.Data), tc.want) {
					t.Fatalf("enrollment %+v", e)
				}
				if tc.label != "" && e.Label != tc.label {
					t.Fatalf("label %q, want %q", e.Label, tc.label)
				}
				if got, err := f.m.Address(e); err != nil || got != tc.want {
					t.Fatalf("Address = %q, %v; want %q", got, err, tc.want)
				}
				if n, _ := f.queue.Pending(ctx); n != 0 {
					t.Fatalf("%d messages queued by Provision", n)
				}
				if err := f.store.Add(ctx, &e, 0); err != nil {
					t.Fatal(err)
				}
				u := method.Ref{ID: tc.user}
				c, err := f.m.Challenge(ctx, "flow-"+tc.user, u, e)
				if err != nil {
					t.Fatalf("Challenge on the provisioned address: %v", err)
				}
				res, err := f.m.Verify(ctx, "flow-"+tc.user, u, e, c, method.Input{email.FieldCode: f.code(t, tc.want)})
				if err != nil || !res.OK {
					t.Fatalf("Verify = %+v, %v", res, err)
				}
			})
		}
		t.Run("same-address-is-a-duplicate", func(t *testing.T) {
			e, err := f.m.Provision(ctx, "u1", method.Input{email.FieldAddress: "ALICE@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			if err := f.store.Add(ctx, &e, 0); !errors.Is(err, method.ErrDuplicate) {
				t.Fatalf("Add = %v, want ErrDuplicate", err)
			}
		})
	})
}

// Provision refuses what Begin refuses, with the same field and reason.
func TestProvisionRefusesLikeBegin(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		f := setup(t, g)
		for _, typed := range []string{"", "nope", "a@b", "Eve <eve@example.com>", "a@example.com, b@example.com",
			"a@example.com\r\nBcc: x@example.com", strings.Repeat("a", 250) + "@example.com", "a b@example.com"} {
			t.Run(strings.NewReplacer(" ", "-", "\r\n", "-").Replace(typed), func(t *testing.T) {
				in := method.Input{email.FieldAddress: typed}
				_, perr := f.m.Provision(t.Context(), "u", in)
				_, berr := f.m.Begin(t.Context(), "flow", method.Ref{ID: "u"}, in)
				var pe, be *method.InvalidError
				if !errors.As(perr, &pe) || !errors.As(berr, &be) || pe.Field != be.Field || pe.Error() != be.Error() {
					t.Fatalf("Provision = %v, Begin = %v; want the same invalid-input error", perr, berr)
				}
			})
		}
		if _, err := f.m.Provision(t.Context(), "", method.Input{email.FieldAddress: "a@example.com"}); err == nil {
			t.Fatal("Provision without a user succeeded")
		}
	})
}

// Provisioning needs no email sender: `latchkey method add` works on a
// deployment without SMTP, while Begin there still says unavailable.
func TestProvisionWithoutSender(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		keys, _ := secret.Parse(secret.Generate())
		tmpl, _ := mail.New("https://id.example.com")
		m := email.New(method.NewCodes(g, keys), sender.NewQueue(g, keys, nil), tmpl, keys)
		e, err := m.Provision(t.Context(), "u", method.Input{email.FieldAddress: "a@example.com"})
		if err != nil {
			t.Fatalf("Provision without a sender: %v", err)
		}
		if got, err := m.Address(e); err != nil || got != "a@example.com" {
			t.Fatalf("Address = %q, %v", got, err)
		}
		if _, err := m.Begin(t.Context(), "f", method.Ref{ID: "u"}, method.Input{"address": "a@example.com"}); !errors.Is(err, method.ErrUnavailable) {
			t.Fatalf("Begin: %v", err)
		}
	})
}
