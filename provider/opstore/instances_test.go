package opstore_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/latchkeyid/latchkey/provider/cachever"
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

// A client deleted or re-created with a new secret, and a rotated signing
// key, on one instance are seen by another within one change-check
// interval (the bound the README states), long before the cache TTLs.
func TestChangesReachOtherInstanceWithinCheckInterval(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dburl string) {
		ctx := t.Context()
		a := newEnv(t, dbtest.Open(t, dburl, sets()...))
		gb := dbtest.Open(t, dburl)
		b := *a
		b.g = gb
		b.keys = keys.New(gb, a.kr, keys.WithClock(a.clk.Now))
		b.users = usertest.Store(gb)
		b.s = opstore.New(gb, a.kr, b.keys, b.users, opstore.WithClock(a.clk.Now))
		srvB := opServer(t, &b)
		cc := url.Values{"grant_type": {"client_credentials"}}
		tokenB := func(secret string) int {
			status, _ := post(t, srvB.URL+"/oauth/token", cc, "svc", secret)
			return status
		}
		if got := tokenB(a.svcSec); got != http.StatusOK { // B caches svc
			t.Fatalf("B with svc's secret: %d", got)
		}
		kidsB := func() map[string]bool {
			ks, err := b.keys.KeySet(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]bool{}
			for _, k := range ks {
				out[k.ID()] = true
			}
			return out
		}
		oldES, err := b.keys.Signing(ctx, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}

		// A replaces svc's secret and rotates the ES256 key.
		if err := a.s.DeleteClient(ctx, "svc"); err != nil {
			t.Fatal(err)
		}
		_, newSec, err := a.s.CreateClient(ctx, opstore.NewClient{ID: "svc", Name: "Service"})
		if err != nil {
			t.Fatal(err)
		}
		rotated, err := a.keys.Rotate(ctx, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		a.clk.Advance(cachever.DefaultEvery)
		if got := tokenB(a.svcSec); got != http.StatusUnauthorized && got != http.StatusBadRequest {
			t.Fatalf("B still accepts svc's old secret one check interval after the change: %d", got)
		}
		if got := tokenB(newSec); got != http.StatusOK {
			t.Fatalf("B refuses svc's new secret one check interval after the change: %d", got)
		}
		if !kidsB()[rotated.KID] {
			t.Fatal("B does not publish the rotated key one check interval after the rotation")
		}
		// Published ahead, but B signs with the old key until the lead ends.
		if k, _ := b.keys.Signing(ctx, keys.ES256); k.ID() != oldES.ID() {
			t.Fatalf("B signs with %s before the publish lead ended, want %s", k.ID(), oldES.ID())
		}

		// A deletes svc: B refuses it within the interval too.
		if err := a.s.DeleteClient(ctx, "svc"); err != nil {
			t.Fatal(err)
		}
		a.clk.Advance(cachever.DefaultEvery)
		if got := tokenB(newSec); got != http.StatusUnauthorized && got != http.StatusBadRequest {
			t.Fatalf("B still accepts a deleted client one check interval later: %d", got)
		}
	})
}
