package opstore_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/latchkeyid/latchkey/provider/opstore"
)

// opServer runs the zitadel provider on the storage, with the client
// interceptor, on a real HTTP server.
func opServer(t testing.TB, e *env) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	var key [32]byte
	copy(key[:], e.kr.Derive("oidc-crypto-key"))
	prov, err := op.NewProvider(&op.Config{
		CryptoKey: key, CryptoKeyId: "t1", CodeMethodS256: true, AuthMethodPost: true, GrantTypeRefreshToken: true,
	}, e.s, op.StaticIssuer(srv.URL), op.WithAllowInsecure(), op.WithHttpInterceptors(opstore.Interceptor))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = prov
	return srv
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// post sends a form with optional Basic credentials and decodes JSON.
func post(t *testing.T, endpoint string, form url.Values, user, pass string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestProviderClientCredentials(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		srv := opServer(t, e)
		tok := srv.URL + "/oauth/token"
		cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}}
		if code, body := post(t, tok, cc, "svc", "wrong"); code != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Fatalf("wrong secret: %d %v", code, body)
		}
		if code, body := post(t, tok, cc, "web", e.secret); code < 400 || code >= 500 {
			t.Fatalf("client without the grant: %d %v", code, body)
		}
		code, body := post(t, tok, cc, "svc", e.svcSec)
		at, _ := body["access_token"].(string)
		if code != http.StatusOK || at == "" {
			t.Fatalf("client credentials: %d %v", code, body)
		}
		intro := srv.URL + "/oauth/introspect"
		if _, body := post(t, intro, url.Values{"token": {at}}, "svc", e.svcSec); body["active"] != true || body["client_id"] != "svc" {
			t.Fatalf("introspection: %v", body)
		}
		if _, body := post(t, intro, url.Values{"token": {at}}, "web", e.secret); body["active"] != false {
			t.Fatalf("another client introspected the token: %v", body)
		}
		if code, _ := post(t, srv.URL+"/revoke", url.Values{"token": {at}}, "svc", e.svcSec); code != http.StatusOK {
			t.Fatalf("revoke: %d", code)
		}
		if _, body := post(t, intro, url.Values{"token": {at}}, "svc", e.svcSec); body["active"] != false {
			t.Fatalf("revoked token active: %v", body)
		}
		if code, body := post(t, srv.URL+"/revoke", url.Values{"token": {"garbage"}}, "svc", e.svcSec); code != http.StatusOK {
			t.Fatalf("revoking garbage: %d %v", code, body)
		}
	})
}

// Client-credentials tokens asked for at once share multi-row INSERTs:
// each caller gets its own token, every one is active, and revoking one
// leaves its batch mates active.
func TestProviderClientCredentialsBurst(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // the requests meet in the writer's batches
	eachEnv(t, func(t *testing.T, e *env) {
		srv := opServer(t, e)
		cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}}.Encode()
		const n = 48
		tokens := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/oauth/token", strings.NewReader(cc))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("svc", url.QueryEscape(e.svcSec))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				var body struct {
					AccessToken string `json:"access_token"`
				}
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
					t.Errorf("token %d: %d %v", i, resp.StatusCode, err)
				}
				tokens[i] = body.AccessToken
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		if len(slices.Compact(slices.Sorted(slices.Values(tokens)))) != n {
			t.Fatalf("%d requests did not get %d distinct tokens", n, n)
		}
		intro := srv.URL + "/oauth/introspect"
		if code, _ := post(t, srv.URL+"/revoke", url.Values{"token": {tokens[0]}}, "svc", e.svcSec); code != http.StatusOK {
			t.Fatalf("revoke: %d", code)
		}
		for i, at := range tokens {
			if _, body := post(t, intro, url.Values{"token": {at}}, "svc", e.svcSec); body["active"] != (i != 0) {
				t.Errorf("token %d: active = %v, want %v", i, body["active"], i != 0)
			}
		}
	})
}

// codeFlow drives /authorize, the sign-in (by the storage call the login
// page makes) and the callback, and returns the code.
func codeFlow(t *testing.T, e *env, srv *httptest.Server, client, redir string, scopes ...string) string {
	t.Helper()
	return codeFlowPKCE(t, e, srv, true, client, redir, scopes...)
}

func codeFlowPKCE(t *testing.T, e *env, srv *httptest.Server, pkce bool, client, redir string, scopes ...string) string {
	t.Helper()
	q := url.Values{"client_id": {client}, "redirect_uri": {redir}, "response_type": {"code"},
		"scope": {strings.Join(scopes, " ")}, "state": {"st"}, "nonce": {"nonce-123"}}
	if pkce {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	resp, err := noRedirect.Get(srv.URL + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	id := loc.Query().Get("authRequestID")
	if resp.StatusCode != http.StatusFound || loc.Path != "/login" || id == "" {
		t.Fatalf("authorize: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if err := e.s.CompleteAuthRequest(t.Context(), id, e.alice.ID, "sess-9", e.clk.Now(), []string{"pwd"}); err != nil {
		t.Fatal(err)
	}
	resp, err = noRedirect.Get(srv.URL + "/authorize/callback?id=" + url.QueryEscape(id))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ = url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), redir) || loc.Query().Get("code") == "" {
		t.Fatalf("callback: %d %s", resp.StatusCode, loc)
	}
	return loc.Query().Get("code")
}

func TestProviderCodeFlowPerClientAlgorithm(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		esRedirect := "https://es.example.com/cb"
		_, esSecret, err := e.s.CreateClient(ctx, opstore.NewClient{ID: "es", RedirectURIs: []string{esRedirect}, IDTokenAlg: "ES256"})
		if err != nil {
			t.Fatal(err)
		}
		srv := opServer(t, e)
		provider, err := gooidc.NewProvider(gooidc.ClientContext(ctx, srv.Client()), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ client, secret, redirect, alg string }{
			{"web", e.secret, redirect, "RS256"},
			{"es", esSecret, esRedirect, "ES256"},
		} {
			t.Run(tc.client, func(t *testing.T) {
				code := codeFlow(t, e, srv, tc.client, tc.redirect, "openid", "email", "offline_access")
				form := url.Values{"grant_type": {"authorization_code"}, "code": {code},
					"redirect_uri": {tc.redirect}, "code_verifier": {verifier}}
				status, body := post(t, srv.URL+"/oauth/token", form, tc.client, tc.secret)
				raw, _ := body["id_token"].(string)
				rt, _ := body["refresh_token"].(string)
				if status != http.StatusOK || raw == "" || rt == "" {
					t.Fatalf("token: %d %v", status, body)
				}
				jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
				if err != nil || jws.Signatures[0].Header.Algorithm != tc.alg {
					t.Fatalf("ID token alg %v (%v), want %s", jws.Signatures[0].Header.Algorithm, err, tc.alg)
				}
				idt, err := provider.Verifier(&gooidc.Config{ClientID: tc.client}).Verify(context.Background(), raw)
				if err != nil {
					t.Fatalf("go-oidc rejects the ID token: %v", err)
				}
				var claims struct {
					Nonce    string   `json:"nonce"`
					AMR      []string `json:"amr"`
					ACR      string   `json:"acr"`
					SID      string   `json:"sid"`
					AuthTime int64    `json:"auth_time"`
					Email    string   `json:"email"`
				}
				if err := idt.Claims(&claims); err != nil {
					t.Fatal(err)
				}
				if idt.Subject != e.alice.ID || claims.Nonce != "nonce-123" || !slices.Equal(claims.AMR, []string{"pwd"}) ||
					claims.ACR != opstore.ACRSingleFactor || claims.SID != "sess-9" || claims.AuthTime == 0 ||
					claims.Email != "alice@example.com" {
					t.Fatalf("ID token claims: sub=%s %+v", idt.Subject, claims)
				}
				// The code is single-use over HTTP too.
				if status, body := post(t, srv.URL+"/oauth/token", form, tc.client, tc.secret); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
					t.Fatalf("code reuse: %d %v", status, body)
				}
				// That replay revoked the grant's refresh token.
				ref := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
				if status, body := post(t, srv.URL+"/oauth/token", ref, tc.client, tc.secret); status != http.StatusBadRequest {
					t.Fatalf("refresh after code replay: %d %v", status, body)
				}
			})
		}
	})
}

func TestProviderRefreshAndUserinfo(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		srv := opServer(t, e)
		code := codeFlow(t, e, srv, "web", redirect, "openid", "profile", "offline_access")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
		if status, body := post(t, srv.URL+"/oauth/token", form, "web", e.secret); status != http.StatusBadRequest {
			t.Fatalf("token without the PKCE verifier: %d %v", status, body)
		}
		code = codeFlow(t, e, srv, "web", redirect, "openid", "profile", "offline_access")
		form = url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
		_, body := post(t, srv.URL+"/oauth/token", form, "web", e.secret)
		rt1, _ := body["refresh_token"].(string)
		ref := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}}
		status, body := post(t, srv.URL+"/oauth/token", ref, "web", e.secret)
		rt2, _ := body["refresh_token"].(string)
		at, _ := body["access_token"].(string)
		if status != http.StatusOK || rt2 == "" || rt2 == rt1 || body["id_token"] == nil {
			t.Fatalf("refresh: %d %v", status, body)
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+at)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var info map[string]any
		json.NewDecoder(resp.Body).Decode(&info)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || info["sub"] != e.alice.ID || info["preferred_username"] != "alice" {
			t.Fatalf("userinfo: %d %v", resp.StatusCode, info)
		}
		// Reuse of rt1 revokes the family, rt2 included.
		if status, body := post(t, srv.URL+"/oauth/token", ref, "web", e.secret); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("refresh reuse: %d %v", status, body)
		}
		ref2 := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}}
		if status, _ := post(t, srv.URL+"/oauth/token", ref2, "web", e.secret); status != http.StatusBadRequest {
			t.Fatalf("successor after reuse: %d", status)
		}
		// Another client cannot use web's refresh token.
		_, body = post(t, srv.URL+"/oauth/token", form, "web", e.secret) // code already used
		if body["error"] != "invalid_grant" {
			t.Fatalf("used code: %v", body)
		}
	})
}

// TestProviderPKCE: checklist 63 at the token endpoint.
func TestProviderPKCE(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		srv := opServer(t, e)
		for _, tc := range []struct {
			name     string
			pkce     bool
			verifier string
			status   int
			wantErr  string
		}{
			{name: "verifier-without-challenge", pkce: false, verifier: verifier, status: 400, wantErr: "invalid_grant"},
			{name: "wrong-verifier", pkce: true, verifier: strings.Repeat("a", 43), status: 400, wantErr: "invalid_grant"},
			{name: "missing-verifier", pkce: true, verifier: "", status: 400},
			{name: "right-verifier", pkce: true, verifier: verifier, status: 200},
			{name: "confidential-without-pkce", pkce: false, verifier: "", status: 200},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code := codeFlowPKCE(t, e, srv, tc.pkce, "web", redirect, "openid")
				form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
				if tc.verifier != "" {
					form.Set("code_verifier", tc.verifier)
				}
				status, body := post(t, srv.URL+"/oauth/token", form, "web", e.secret)
				if status != tc.status || (tc.wantErr != "" && body["error"] != tc.wantErr) {
					t.Fatalf("got %d %v, want %d %s", status, body, tc.status, tc.wantErr)
				}
			})
		}
	})
}
