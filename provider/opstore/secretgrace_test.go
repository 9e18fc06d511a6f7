package opstore_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/opstore"
)

// A regenerated secret works at once; the old one only for the grace
// period asked for (none by default).
func TestRegenerateSecretGrace(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		for _, tc := range []struct {
			name     string
			grace    time.Duration
			oldAfter []time.Duration // moments after which the old secret is tried, in order
			oldOK    []bool
		}{
			{"no-grace", 0, []time.Duration{0}, []bool{false}},
			{"one-hour", time.Hour, []time.Duration{0, 59 * time.Minute, 2 * time.Minute}, []bool{true, true, false}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := "regen-" + tc.name
				_, old, err := e.s.CreateClient(ctx, opstore.NewClient{ID: id})
				if err != nil {
					t.Fatal(err)
				}
				fresh, err := e.s.RegenerateSecret(ctx, id, tc.grace)
				if err != nil || fresh == old || len(fresh) < 43 {
					t.Fatalf("regenerate: %q %v", fresh, err)
				}
				for i, d := range tc.oldAfter {
					e.clk.Advance(d)
					if got := e.s.AuthorizeClientIDSecret(ctx, id, old) == nil; got != tc.oldOK[i] {
						t.Fatalf("old secret after step %d: ok=%v, want %v", i, got, tc.oldOK[i])
					}
					if err := e.s.AuthorizeClientIDSecret(ctx, id, fresh); err != nil {
						t.Fatalf("new secret refused: %v", err)
					}
				}
			})
		}
		if _, err := e.s.RegenerateSecret(ctx, "spa", 0); !errors.Is(err, opstore.ErrInvalid) {
			t.Fatalf("public client secret: %v", err)
		}
		if _, err := e.s.RegenerateSecret(ctx, "nope", 0); !errors.Is(err, opstore.ErrNotFound) {
			t.Fatalf("unknown client: %v", err)
		}
		if _, err := e.s.RegenerateSecret(ctx, "svc", -time.Second); !errors.Is(err, opstore.ErrInvalid) {
			t.Fatalf("negative grace: %v", err)
		}
	})
}

// An update is validated as a whole, every problem with its field, and
// changes only what it names.
func TestUpdateClientWhole(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		none := []string{}
		alg, bad := "ES256", "HS256"
		_, err := e.s.UpdateClient(ctx, "web", opstore.ClientChange{RedirectURIs: &none, IDTokenAlg: &bad})
		var inv *opstore.InvalidError
		if !errors.As(err, &inv) {
			t.Fatalf("invalid update: %v", err)
		}
		var fields []string
		for _, p := range inv.Problems {
			fields = append(fields, p.Field)
		}
		if !slices.Contains(fields, "redirect_uris") || !slices.Contains(fields, "id_token_alg") {
			t.Fatalf("problems %+v", inv.Problems)
		}
		ttl := 5 * time.Minute
		c, err := e.s.UpdateClient(ctx, "web", opstore.ClientChange{IDTokenAlg: &alg, AccessTokenTTL: &ttl})
		if err != nil || c.IDTokenAlg() != "ES256" || c.AccessTokenTTL() != ttl || !slices.Equal(c.RedirectURIs(), []string{redirect}) {
			t.Fatalf("update: %v %+v", err, c)
		}
		if err := e.s.AuthorizeClientIDSecret(ctx, "web", e.secret); err != nil {
			t.Fatalf("update changed the secret: %v", err)
		}
		if _, err := e.s.UpdateClient(ctx, "nope", opstore.ClientChange{IDTokenAlg: &alg}); !errors.Is(err, opstore.ErrNotFound) {
			t.Fatalf("unknown client: %v", err)
		}
		page, err := e.s.ListClientsAfter(ctx, "spa", 10)
		if err != nil || len(page) != 2 || page[0].GetID() != "svc" || page[1].GetID() != "web" {
			t.Fatalf("page after spa: %v %d", err, len(page))
		}
	})
}
