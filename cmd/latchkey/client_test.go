package main

import (
	"regexp"
	"testing"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/keys"
	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
)

var shownSecret = regexp.MustCompile(`shown once, store it now\): (\S+)`)

func TestClientCommands(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		c := newCLI(t, url)
		given := "a-client-secret-that-is-long-enough-0123456789"
		steps := []cliStep{
			{"public-spa", "", []string{"client", "create", "--id", "spa", "--name", "SPA", "--redirect-uri", "https://spa.example/cb", "--public"}, 0, "public", ""},
			{"generated-secret", "", []string{"client", "create", "--id", "svc", "--name", "Service", "--secret-stdin"}, 0, "shown once", ""},
			{"given-secret-not-echoed", given + "\n", []string{"client", "create", "--id", "web", "--name", "Web",
				"--redirect-uri", "https://web.example/cb", "--post-logout-redirect-uri", "https://web.example/bye", "--third-party",
				"--secret-stdin", "--id-token-alg", "ES256"}, 0, "as given on stdin", given},
			{"short-secret", "too-short\n", []string{"client", "create", "--id", "weak", "--name", "Weak", "--secret-stdin"}, exitUsage, "secret must be", "too-short"},
			{"duplicate", "", []string{"client", "create", "--id", "spa", "--name", "Again", "--redirect-uri", "https://spa.example/cb", "--public"}, exitUsage, "already exists", ""},
			{"http-redirect-refused", "", []string{"client", "create", "--id", "bad", "--name", "Bad", "--redirect-uri", "http://evil.example/cb", "--public"}, exitUsage, "redirect URI", ""},
			{"public-client-credentials-refused", "", []string{"client", "create", "--id", "bad2", "--name", "Bad", "--grant", "client_credentials", "--public"}, exitUsage, "public client", ""},
			{"needs-kind", "", []string{"client", "create", "--id", "x", "--name", "X"}, exitUsage, "missing flags", ""},
			{"admin-api", "", []string{"client", "create", "--id", "ops", "--name", "Ops", "--grant", "client_credentials", "--admin-api", "--secret-stdin"}, 0, "admin API", ""},
			{"admin-api-needs-client-credentials", "", []string{"client", "create", "--id", "bad3", "--name", "Bad", "--redirect-uri", "https://web.example/cb", "--admin-api", "--secret-stdin"}, exitUsage, "client_credentials", ""},
			{"show-admin-api", "", []string{"client", "show", "ops"}, 0, "confidential, admin API", ""},
			{"show-not-admin-api", "", []string{"client", "show", "svc"}, 0, "kind:", "admin API"},
			{"admin-api-off", "", []string{"client", "update", "ops", "--no-admin-api"}, 0, "updated client ops", ""},
			{"show-admin-api-off", "", []string{"client", "show", "ops"}, 0, "kind:", "admin API"},
			{"admin-api-on", "", []string{"client", "update", "ops", "--admin-api"}, 0, "updated client ops", ""},
			{"show-admin-api-on", "", []string{"client", "show", "ops"}, 0, "confidential, admin API", ""},
			{"admin-api-on-needs-client-credentials", "", []string{"client", "update", "web", "--admin-api"}, exitUsage, "client_credentials", ""},
			{"list", "", []string{"client", "list"}, 0, "client_credentials", given},
			{"show", "", []string{"client", "show", "web"}, 0, "ES256", given},
			{"show-unknown", "", []string{"client", "show", "nope"}, exitFailed, `no client "nope"`, ""},
			{"delete", "", []string{"client", "delete", "spa"}, 0, "deleted client spa", ""},
			{"delete-again", "", []string{"client", "delete", "spa"}, exitFailed, `no client "spa"`, ""},
			{"audited", "", []string{"audit", "--type", "admin.client.create"}, 0, "client=web", given},
		}
		var generated string
		if m := shownSecret.FindStringSubmatch(c.runSteps(steps)["generated-secret"].out); m != nil {
			generated = m[1]
		}
		if len(generated) < 43 {
			t.Fatalf("generated secret %q is not 256 bits", generated)
		}
		// The storage accepts exactly the secrets the commands handled.
		g := dbtest.Open(t, url, migrationSets()...)
		kr, err := secret.Parse(c.secret)
		if err != nil {
			t.Fatal(err)
		}
		st := opstore.New(g, kr, keys.New(g, kr), user.NewStore(g, password.NewHasher(password.Params{Memory: 7168, Time: 5, Threads: 1})))
		ctx := t.Context()
		for _, tt := range []struct {
			id, secret string
			ok         bool
		}{{"svc", generated, true}, {"web", given, true}, {"web", given + "x", false}, {"svc", given, false}} {
			if err := st.AuthorizeClientIDSecret(ctx, tt.id, tt.secret); (err == nil) != tt.ok {
				t.Errorf("client %s secret check: err=%v, want ok=%v", tt.id, err, tt.ok)
			}
		}
		if cl, err := st.ClientByID(ctx, "ops"); err != nil || !cl.AdminAPI() {
			t.Fatalf("ops client: %v %+v", err, cl)
		}
		if cl, err := st.ClientByID(ctx, "web"); err != nil || !cl.IsThirdParty() || cl.AccessTokenTTL() != c.cfgAccessTTL() || cl.AdminAPI() {
			t.Fatalf("web client: %v %+v", err, cl)
		}
	})
}
