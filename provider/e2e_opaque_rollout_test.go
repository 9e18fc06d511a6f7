package provider_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/latchkeyid/latchkey/provider/cachever"
	"github.com/latchkeyid/latchkey/provider/opaque"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// A rolling upgrade to the release with lk2 tokens, on a fleet of two
// instances of it on one database (each reached directly) and, beside
// them, an instance of the release before: that one opens opaque values
// only with the library's crypto under the same secret, exactly as that
// release was configured, so it stands in for the older instance here.
// While the setting says jwe (as the migration leaves a database that was
// already served), every access token and code either new instance mints
// opens on the older instance too, and a token minted on one new instance
// is active on the other. Once `latchkey keys opaque-format lk2` is run,
// both mint lk2 within the check interval, and the other new instance
// still opens them.
func TestOpaqueFormatRollout(t *testing.T) {
	pt.Each(t, pt.Config{Instances: 2}, func(t *testing.T, s *pt.Server) {
		older := op.NewAES256GCMCrypto([32]byte(s.Keyring.Derive(opaque.LegacyPurpose)), opaque.LegacyKeyID)
		setFormat := func(f opaque.Format) {
			t.Helper()
			if err := cachever.Set(s.DB, cachever.OpaqueFormat, int64(f)); err != nil {
				t.Fatal(err)
			}
			s.Clock.Advance(cachever.DefaultEvery)
		}
		direct := directClients(t, s)
		// tokenAt mints a client-credentials access token at instance i
		// and checks that instance j introspects it as active.
		tokenAt := func(i, j int) string {
			t.Helper()
			status, body := s.PostFormVia(t, direct[i], "/oauth/token", pt.ServiceClient, pt.ServiceSecret,
				url.Values{"grant_type": {"client_credentials"}})
			tok, _ := body["access_token"].(string)
			if status != http.StatusOK || tok == "" {
				t.Fatalf("token at instance %d: %d %v", i, status, body)
			}
			status, body = s.PostFormVia(t, direct[j], "/oauth/introspect", pt.ServiceClient, pt.ServiceSecret,
				url.Values{"token": {tok}})
			if status != http.StatusOK || body["active"] != true {
				t.Errorf("instance %d introspects instance %d's token: %d %v", j, i, status, body)
			}
			return tok
		}
		opensOnOlder := func(v string) bool {
			_, err := older.Decrypt(v)
			return err == nil
		}
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		// code signs in through the round-robin and returns the code the
		// app got, after redeeming it.
		code := func() string {
			t.Helper()
			a := rp.Start()
			b := s.NewBrowser(t)
			c := rp.Callback(a, b.SignIn(b.Get(a.URL).Page, pt.Username, pt.Password)).Get("code")
			if _, err := rp.Exchange(t.Context(), a, c); err != nil {
				t.Fatalf("exchange: %v", err)
			}
			return c
		}

		setFormat(opaque.FormatJWE)
		for _, v := range []string{tokenAt(0, 1), tokenAt(1, 0), code()} {
			if strings.HasPrefix(v, "lk2.") || !opensOnOlder(v) {
				t.Errorf("during the roll %q was minted that the older release does not open", v)
			}
		}

		setFormat(opaque.FormatLK2)
		for _, v := range []string{tokenAt(0, 1), tokenAt(1, 0), code()} {
			if !strings.HasPrefix(v, "lk2.") {
				t.Errorf("after the setting %q is not lk2", v)
			}
			if opensOnOlder(v) {
				t.Errorf("the older release opens %q: the test's stand-in for it is wrong", v)
			}
		}
	})
}
