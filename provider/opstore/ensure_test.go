package opstore_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/opstore"
)

// EnsureClient creates a server-owned client, leaves it alone while it
// matches, and rewrites it (secret included) when the configuration
// changed: a new issuer, a rotated LATCHKEY_SECRET.
func TestEnsureClient(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		nc := opstore.NewClient{ID: "console", Name: "Console", Secret: strings.Repeat("a", 43),
			RedirectURIs: []string{"https://id.example/admin/callback"}, GrantTypes: []string{opstore.GrantAuthorizationCode}}
		steps := []struct {
			name   string
			change func(*opstore.NewClient)
		}{
			{"create", func(*opstore.NewClient) {}},
			{"unchanged", func(*opstore.NewClient) {}},
			{"new-issuer", func(nc *opstore.NewClient) { nc.RedirectURIs = []string{"https://login.example/admin/callback"} }},
			{"new-secret", func(nc *opstore.NewClient) { nc.Secret = strings.Repeat("b", 43) }},
		}
		for _, st := range steps {
			st.change(&nc)
			c, err := e.s.EnsureClient(ctx, nc)
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if !slices.Equal(c.RedirectURIs(), nc.RedirectURIs) || c.IsPublic() {
				t.Fatalf("%s: stored %v", st.name, c.RedirectURIs())
			}
			if err := e.s.AuthorizeClientIDSecret(ctx, "console", nc.Secret); err != nil {
				t.Fatalf("%s: the configured secret is refused: %v", st.name, err)
			}
		}
		if e.s.AuthorizeClientIDSecret(ctx, "console", strings.Repeat("a", 43)) == nil {
			t.Fatal("the secret before the change still works")
		}
		if _, err := e.s.EnsureClient(ctx, opstore.NewClient{ID: "console", RedirectURIs: nc.RedirectURIs}); err == nil {
			t.Fatal("a confidential client without its secret was accepted")
		}
	})
}
