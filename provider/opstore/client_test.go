package opstore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/latchkeyid/latchkey/provider/opstore"
)

func TestCreateClientValidation(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		long := strings.Repeat("s", 40)
		for _, tc := range []struct {
			name string
			nc   opstore.NewClient
			ok   bool
		}{
			{"defaults-code", opstore.NewClient{ID: "a1", RedirectURIs: []string{"https://a.example/cb"}}, true},
			{"defaults-service", opstore.NewClient{ID: "a2"}, true},
			{"loopback-http", opstore.NewClient{ID: "a3", RedirectURIs: []string{"http://127.0.0.1:8080/cb"}}, true},
			{"native-custom-scheme", opstore.NewClient{ID: "a4", Public: true, RedirectURIs: []string{"com.example.app:/cb"}}, true},
			{"operator-secret", opstore.NewClient{ID: "a5", Secret: long}, true},
			{"es256-jwt", opstore.NewClient{ID: "a6", IDTokenAlg: "ES256", AccessTokenType: "jwt"}, true},
			{"colon-in-id", opstore.NewClient{ID: "a:b"}, false},
			{"empty-id", opstore.NewClient{}, false},
			{"long-id", opstore.NewClient{ID: strings.Repeat("x", 65)}, false},
			{"http-remote", opstore.NewClient{ID: "b1", RedirectURIs: []string{"http://evil.example/cb"}}, false},
			{"fragment", opstore.NewClient{ID: "b2", RedirectURIs: []string{"https://a.example/cb#x"}}, false},
			{"relative", opstore.NewClient{ID: "b3", RedirectURIs: []string{"/cb"}}, false},
			{"javascript-scheme", opstore.NewClient{ID: "b41", Public: true, RedirectURIs: []string{"javascript:alert(1)"}}, false},
			{"custom-scheme-confidential", opstore.NewClient{ID: "b4", RedirectURIs: []string{"app:/cb"}}, false},
			{"code-without-redirect", opstore.NewClient{ID: "b5", GrantTypes: []string{"authorization_code"}}, false},
			{"public-client-credentials", opstore.NewClient{ID: "b6", Public: true, GrantTypes: []string{"client_credentials"}}, false},
			{"public-with-secret", opstore.NewClient{ID: "b7", Public: true, Secret: long, RedirectURIs: []string{"https://a.example/cb"}}, false},
			{"weak-secret", opstore.NewClient{ID: "b8", Secret: "hunter2"}, false},
			{"unknown-grant", opstore.NewClient{ID: "b9", GrantTypes: []string{"password"}}, false},
			{"implicit-grant", opstore.NewClient{ID: "c1", GrantTypes: []string{"implicit"}, RedirectURIs: []string{"https://a.example/cb"}}, false},
			{"refresh-alone", opstore.NewClient{ID: "c2", GrantTypes: []string{"refresh_token"}}, false},
			{"hs256", opstore.NewClient{ID: "c3", IDTokenAlg: "HS256"}, false},
			{"none-alg", opstore.NewClient{ID: "c4", IDTokenAlg: "none"}, false},
			{"ttl-too-long", opstore.NewClient{ID: "c5", AccessTokenTTL: 48 * time.Hour}, false},
			{"duplicate", opstore.NewClient{ID: "web"}, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c, sec, err := e.s.CreateClient(t.Context(), tc.nc)
				if (err == nil) != tc.ok {
					t.Fatalf("err = %v, want ok=%v", err, tc.ok)
				}
				if err != nil {
					if !errors.Is(err, opstore.ErrInvalid) && !errors.Is(err, opstore.ErrExists) {
						t.Fatalf("error %v is neither ErrInvalid nor ErrExists", err)
					}
					return
				}
				if c.IsPublic() != (sec == "") {
					t.Fatalf("public=%v but secret %q", c.IsPublic(), sec)
				}
				if tc.nc.Secret != "" && sec != tc.nc.Secret {
					t.Fatal("operator secret not kept")
				}
				if !c.IsPublic() && tc.nc.Secret == "" && len(sec) < 43 {
					t.Fatalf("weak generated secret %q", sec)
				}
			})
		}
		if _, err := e.s.ClientByID(t.Context(), "a2"); err != nil {
			t.Fatal(err)
		}
		if grants := mustClient(t, e, "a2").GrantTypeNames(); len(grants) != 1 || grants[0] != "client_credentials" {
			t.Fatalf("default grants without redirects = %v", grants)
		}
		if grants := mustClient(t, e, "a1").GrantTypeNames(); len(grants) != 2 {
			t.Fatalf("default grants with redirects = %v", grants)
		}
	})
}

func mustClient(t *testing.T, e *env, id string) *opstore.Client {
	t.Helper()
	c, err := e.s.ClientByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientSecretCheck(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		var row struct{ SecretHash string }
		e.g.Table("oidc_clients").Select("secret_hash").Where("id = ?", "web").Scan(&row)
		if row.SecretHash == "" || strings.Contains(row.SecretHash, e.secret) || len(row.SecretHash) != 64 {
			t.Fatalf("stored secret hash %q", row.SecretHash)
		}
		for _, tc := range []struct {
			name, id, secret string
			ok               bool
		}{
			{"right", "web", e.secret, true},
			{"wrong", "web", e.secret + "x", false},
			{"prefix", "web", e.secret[:20], false},
			{"empty", "web", "", false},
			{"other-clients-secret", "web", e.svcSec, false},
			{"public-client", "spa", "", false},
			{"unknown-client", "nobody", e.secret, false},
			{"huge", "web", strings.Repeat("a", 100000), false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := e.s.AuthorizeClientIDSecret(ctx, tc.id, tc.secret)
				if (err == nil) != tc.ok {
					t.Fatalf("err = %v, want ok=%v", err, tc.ok)
				}
				// Bad credentials must be plain errors: oidc.ErrServerError
				// would become a 500.
				var oe *oidc.Error
				if err != nil && errors.As(err, &oe) {
					t.Fatalf("bad credentials returned an OAuth error %v", oe)
				}
			})
		}
		// The same secret under another client id does not verify (the id
		// is part of the MAC).
		if _, _, err := e.s.CreateClient(ctx, opstore.NewClient{ID: "twin", Secret: e.secret}); err != nil {
			t.Fatal(err)
		}
		var twin struct{ SecretHash string }
		e.g.Table("oidc_clients").Select("secret_hash").Where("id = ?", "twin").Scan(&twin)
		if twin.SecretHash == row.SecretHash {
			t.Fatal("equal secrets of two clients hash the same")
		}
	})
}

func TestClientLookupErrorsAndCache(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		_, err := e.s.GetClientByClientID(ctx, "nobody")
		var oe *oidc.Error
		if err == nil || errors.As(err, &oe) {
			t.Fatalf("unknown client: %v, want a plain error", err)
		}
		c, err := e.s.GetClientByClientID(ctx, "web")
		if err != nil || c.AuthMethod() != oidc.AuthMethodBasic || c.ApplicationType() != op.ApplicationTypeWeb {
			t.Fatalf("web client: %v", err)
		}
		spa, _ := e.s.GetClientByClientID(ctx, "spa")
		if spa.AuthMethod() != oidc.AuthMethodNone || spa.ApplicationType() != op.ApplicationTypeUserAgent {
			t.Fatalf("spa auth %s type %v", spa.AuthMethod(), spa.ApplicationType())
		}
		if !c.IsScopeAllowed("groups") || c.IsScopeAllowed("admin") {
			t.Fatal("scope filter")
		}
		if rt := c.ResponseTypes(); len(rt) != 1 || rt[0] != oidc.ResponseTypeCode {
			t.Fatalf("response types %v, want code only", rt)
		}
		if !strings.Contains(c.LoginURL("ID1"), "authRequestID=ID1") {
			t.Fatalf("login URL %q", c.LoginURL("ID1"))
		}
		// The DB is read once per cache period.
		if err := e.g.Exec("UPDATE oidc_clients SET name = ? WHERE id = ?", "Renamed", "web").Error; err != nil {
			t.Fatal(err)
		}
		c, _ = e.s.GetClientByClientID(ctx, "web")
		if c.(*opstore.Client).GetName() != "Web App" {
			t.Fatal("client not cached")
		}
		e.clk.Advance(opstore.DefaultClientCacheTTL)
		c, _ = e.s.GetClientByClientID(ctx, "web")
		if c.(*opstore.Client).GetName() != "Renamed" {
			t.Fatal("cache outlived its TTL")
		}
	})
}

func TestDeleteClient(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		at, rt := e.codeTokens(t, "web", true)
		if err := e.s.SaveConsent(ctx, e.alice.ID, "web", []string{"openid"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.GetClientByClientID(ctx, "web"); err != nil { // warm the cache
			t.Fatal(err)
		}
		if err := e.s.DeleteClient(ctx, "web"); err != nil {
			t.Fatal(err)
		}
		if err := e.s.DeleteClient(ctx, "web"); !errors.Is(err, opstore.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := e.s.GetClientByClientID(ctx, "web"); err == nil {
			t.Fatal("deleted client still served (cache)")
		}
		if e.active(t, at, e.alice.ID, "web") {
			t.Fatal("token of a deleted client active")
		}
		if _, err := e.s.TokenRequestByRefreshToken(ctx, rt); err == nil {
			t.Fatal("refresh token of a deleted client works")
		}
		list, err := e.s.ListClients(ctx)
		if err != nil || len(list) != 2 || list[0].GetID() != "spa" {
			t.Fatalf("ListClients after delete: %v", err)
		}
	})
}

func TestSigningKeyPerClient(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		for _, tc := range []struct {
			name string
			ctx  func() (ctxClient string, load string)
			want string
		}{
			{name: "no-holder", want: "RS256"},
			{name: "rs256-client", ctx: func() (string, string) { return "", "web" }, want: "RS256"},
			{name: "es256-client", ctx: func() (string, string) { return "", "spa" }, want: "ES256"},
			{name: "preset-es256", ctx: func() (string, string) { return "spa", "" }, want: "ES256"},
			{name: "unknown-client", ctx: func() (string, string) { return "nobody", "" }, want: "RS256"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ctx := t.Context()
				if tc.ctx != nil {
					preset, load := tc.ctx()
					ctx = opstore.WithClientID(ctx, preset)
					if load != "" {
						// The token endpoint loads the client it authenticates.
						if _, err := e.s.GetClientByClientID(ctx, load); err != nil {
							t.Fatal(err)
						}
					}
				}
				k, err := e.s.SigningKey(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if string(k.SignatureAlgorithm()) != tc.want {
					t.Fatalf("signing with %s, want %s", k.SignatureAlgorithm(), tc.want)
				}
			})
		}
		algs, err := e.s.SignatureAlgorithms(t.Context())
		if err != nil || len(algs) != 2 || algs[0] != "RS256" {
			t.Fatalf("SignatureAlgorithms = %v, %v", algs, err)
		}
		ks, err := e.s.KeySet(t.Context())
		if err != nil || len(ks) != 2 {
			t.Fatalf("KeySet = %d keys, %v", len(ks), err)
		}
		j1, err := e.s.JWKS(t.Context())
		j2, _ := e.s.JWKS(t.Context())
		if err != nil || !strings.Contains(string(j1), ks[0].ID()) || &j1[0] != &j2[0] {
			t.Fatalf("JWKS not prepared once: %s, %v", j1, err)
		}
	})
}

func TestConsent(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		has := func(scopes ...string) bool {
			t.Helper()
			ok, err := e.s.HasConsent(ctx, e.alice.ID, "web", scopes)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if has("openid") {
			t.Fatal("consent before any grant")
		}
		if err := e.s.SaveConsent(ctx, e.alice.ID, "web", []string{"openid", "email"}); err != nil {
			t.Fatal(err)
		}
		if !has("openid", "email") || has("openid", "profile") {
			t.Fatal("consent does not match the granted scopes")
		}
		if err := e.s.SaveConsent(ctx, e.alice.ID, "web", []string{"profile"}); err != nil {
			t.Fatal(err)
		}
		if !has("openid", "email", "profile") {
			t.Fatal("second grant replaced the first instead of adding to it")
		}
		if ok, _ := e.s.HasConsent(ctx, e.alice.ID, "spa", []string{"openid"}); ok {
			t.Fatal("consent leaked to another client")
		}
		if err := e.s.RevokeConsent(ctx, e.alice.ID, "web"); err != nil || has("openid") {
			t.Fatalf("revoke consent: %v", err)
		}
	})
}

func TestCleanup(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		_, rt := e.codeTokens(t, "web", true)
		e.codeTokens(t, "web", false)
		e.authorize(t, "web", "openid")
		count := func(table string) int64 {
			var n int64
			e.g.Table(table).Count(&n)
			return n
		}
		if err := e.s.Cleanup(ctx); err != nil {
			t.Fatal(err)
		}
		if count("oidc_auth_requests") != 1 || count("oidc_auth_codes") != 2 || count("oidc_access_tokens") != 2 {
			t.Fatal("cleanup deleted live rows")
		}
		// Past the auth request, code and access token lifetimes: gone. The
		// refresh token family lives on (a used token is kept for reuse
		// detection until the family expires).
		e.clk.Advance(opstore.DefaultAuthRequestTTL + time.Minute)
		if err := e.s.Cleanup(ctx); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"oidc_auth_requests", "oidc_auth_codes", "oidc_access_tokens"} {
			if n := count(table); n != 0 {
				t.Errorf("%s: %d expired rows left", table, n)
			}
		}
		if _, _, err := e.refresh(t, rt); err != nil {
			t.Fatalf("refresh after cleanup: %v", err)
		}
		if count("oidc_refresh_tokens") != 2 {
			t.Fatal("used refresh token deleted before its family expired")
		}
		e.clk.Advance(opstore.DefaultRefreshMax)
		if err := e.s.Cleanup(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count("oidc_refresh_tokens"); n != 0 {
			t.Fatalf("%d refresh tokens left after the family expired", n)
		}
	})
}

func TestSigningFallsBackToRS256(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		if err := e.g.Exec("DELETE FROM oidc_signing_keys WHERE alg = ?", "ES256").Error; err != nil {
			t.Fatal(err)
		}
		if err := e.keys.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		k, err := e.s.SigningKey(opstore.WithClientID(ctx, "spa"))
		if err != nil || k.SignatureAlgorithm() != "RS256" {
			t.Fatalf("ES256 client without an ES256 key: %v, %v", k, err)
		}
	})
}
