package opstore_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/keys"
	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/user/usertest"
)

// Two instances on one database (own pools, own caches, same
// LATCHKEY_SECRET) accept each other's codes and tokens and publish the
// same keys.
func TestTwoInstancesShareCodesTokensAndKeys(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dburl string) {
		a := newEnv(t, dbtest.Open(t, dburl, sets()...))
		gb := dbtest.Open(t, dburl)
		b := *a
		b.g = gb
		b.keys = keys.New(gb, a.kr)
		if err := b.keys.Ensure(t.Context()); err != nil {
			t.Fatal(err)
		}
		b.users = usertest.Store(gb)
		b.s = opstore.New(gb, a.kr, b.keys, b.users)
		srvA, srvB := opServer(t, a), opServer(t, &b)

		// Sign in on A, redeem the code on B.
		code := codeFlow(t, a, srvA, "web", redirect, "openid", "offline_access")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
		status, body := post(t, srvB.URL+"/oauth/token", form, "web", a.secret)
		at, _ := body["access_token"].(string)
		rt, _ := body["refresh_token"].(string)
		raw, _ := body["id_token"].(string)
		if status != http.StatusOK || at == "" || rt == "" {
			t.Fatalf("B redeeming A's code: %d %v", status, body)
		}
		// A's discovery and JWKS verify B's ID token (issuers differ in this
		// test only because each httptest server has its own URL).
		provA, err := gooidc.NewProvider(gooidc.ClientContext(t.Context(), srvA.Client()), srvA.URL)
		if err != nil {
			t.Fatal(err)
		}
		cfg := &gooidc.Config{ClientID: "web", SkipIssuerCheck: true}
		if _, err := provA.Verifier(cfg).Verify(context.Background(), raw); err != nil {
			t.Fatalf("A's keys do not verify B's ID token: %v", err)
		}
		// A introspects B's token and refreshes B's refresh token.
		if _, body := post(t, srvA.URL+"/oauth/introspect", url.Values{"token": {at}}, "web", a.secret); body["active"] != true {
			t.Fatalf("A introspecting B's token: %v", body)
		}
		ref := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		if status, body := post(t, srvA.URL+"/oauth/token", ref, "web", a.secret); status != http.StatusOK {
			t.Fatalf("A refreshing B's refresh token: %d %v", status, body)
		}
		// Reuse of the rotated token on B is detected.
		if status, _ := post(t, srvB.URL+"/oauth/token", ref, "web", a.secret); status != http.StatusBadRequest {
			t.Fatalf("reuse across instances: %d", status)
		}
	})
}
