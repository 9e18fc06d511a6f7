package opstore_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/opstore"
)

// scopeOf splits a token or introspection response's scope field.
func scopeOf(body map[string]any) []string {
	s, _ := body["scope"].(string)
	return strings.Fields(s)
}

// The admin scope over the real token endpoint: only a client registered
// for the admin API gets it by client credentials; every other client is
// refused, and scopes Latchkey does not know are dropped.
func TestAdminScopeClientCredentials(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		_, adminSec, err := e.s.CreateClient(ctx, opstore.NewClient{ID: "ops", Name: "Ops", AdminAPI: true})
		if err != nil {
			t.Fatal(err)
		}
		if c := mustClient(t, e, "ops"); !c.AdminAPI() || mustClient(t, e, "svc").AdminAPI() {
			t.Fatal("admin API flag not stored")
		}
		srv := opServer(t, e)
		tok, intro := srv.URL+"/oauth/token", srv.URL+"/oauth/introspect"
		for _, tc := range []struct {
			name, client, secret, scope string
			status                      int
			wantErr                     string
			want                        []string
		}{
			{"plain-client-asks-admin", "svc", e.svcSec, opstore.ScopeAdmin, http.StatusBadRequest, "invalid_scope", nil},
			{"plain-client-hides-admin-among-others", "svc", e.svcSec, "api " + opstore.ScopeAdmin, http.StatusBadRequest, "invalid_scope", nil},
			{"plain-client-unknown-scopes-dropped", "svc", e.svcSec, "api openid latchkey:other", http.StatusOK, "", nil},
			{"admin-client-gets-admin", "ops", adminSec, opstore.ScopeAdmin + " api", http.StatusOK, "", []string{opstore.ScopeAdmin}},
			{"admin-client-without-asking", "ops", adminSec, "", http.StatusOK, "", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				form := url.Values{"grant_type": {"client_credentials"}}
				if tc.scope != "" {
					form.Set("scope", tc.scope)
				}
				status, body := post(t, tok, form, tc.client, tc.secret)
				if status != tc.status || (tc.wantErr != "" && body["error"] != tc.wantErr) {
					t.Fatalf("token: %d %v, want %d %s", status, body, tc.status, tc.wantErr)
				}
				if tc.wantErr != "" {
					return
				}
				if got := scopeOf(body); !slices.Equal(got, tc.want) {
					t.Fatalf("token response scope %q, want %q", got, tc.want)
				}
				at, _ := body["access_token"].(string)
				_, ib := post(t, intro, url.Values{"token": {at}}, tc.client, tc.secret)
				if ib["active"] != true || !slices.Equal(scopeOf(ib), tc.want) {
					t.Fatalf("introspection: %v, want scope %q", ib, tc.want)
				}
			})
		}
	})
}

func TestAdminAPIFlagNeedsClientCredentials(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, _, err := e.s.CreateClient(t.Context(), opstore.NewClient{ID: "webadmin", AdminAPI: true,
			RedirectURIs: []string{redirect}, GrantTypes: []string{opstore.GrantAuthorizationCode}})
		if !errors.Is(err, opstore.ErrInvalid) || !strings.Contains(err.Error(), "client_credentials") {
			t.Fatalf("admin API flag without client_credentials: %v", err)
		}
	})
}

// A user's token carries the admin scope only while the user holds the
// admin flag, and never through a third-party app.
func TestAdminScopeForUsers(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		tpRedirect := "https://tp.example.com/cb"
		_, tpSecret, err := e.s.CreateClient(ctx, opstore.NewClient{ID: "tp", ThirdParty: true, RedirectURIs: []string{tpRedirect}})
		if err != nil {
			t.Fatal(err)
		}
		srv := opServer(t, e)
		tok := srv.URL + "/oauth/token"
		redeem := func(t *testing.T, client, secret, redir string) map[string]any {
			t.Helper()
			code := codeFlow(t, e, srv, client, redir, "openid", "offline_access", opstore.ScopeAdmin)
			status, body := post(t, tok, url.Values{"grant_type": {"authorization_code"}, "code": {code},
				"redirect_uri": {redir}, "code_verifier": {verifier}}, client, secret)
			if status != http.StatusOK {
				t.Fatalf("token: %d %v", status, body)
			}
			return body
		}
		setAdmin := func(t *testing.T, admin bool) {
			t.Helper()
			if err := e.users.SetAdmin(ctx, e.alice.ID, admin); err != nil {
				t.Fatal(err)
			}
		}
		t.Run("normal-user-denied", func(t *testing.T) {
			if got := scopeOf(redeem(t, "web", e.secret, redirect)); slices.Contains(got, opstore.ScopeAdmin) {
				t.Fatalf("a normal user's token has %q", got)
			}
		})
		t.Run("third-party-app-denied", func(t *testing.T) {
			setAdmin(t, true)
			defer setAdmin(t, false)
			if got := scopeOf(redeem(t, "tp", tpSecret, tpRedirect)); slices.Contains(got, opstore.ScopeAdmin) {
				t.Fatalf("a third-party app got %q for an admin", got)
			}
		})
		t.Run("admin-granted-until-flag-removed", func(t *testing.T) {
			setAdmin(t, true)
			defer setAdmin(t, false)
			body := redeem(t, "web", e.secret, redirect)
			if got := scopeOf(body); !slices.Contains(got, opstore.ScopeAdmin) {
				t.Fatalf("an admin's token lacks the admin scope: %q", got)
			}
			rt, _ := body["refresh_token"].(string)
			setAdmin(t, false)
			status, rb := post(t, tok, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "web", e.secret)
			if status != http.StatusOK || slices.Contains(scopeOf(rb), opstore.ScopeAdmin) {
				t.Fatalf("refresh after the admin flag was removed: %d %v", status, rb)
			}
			at, _ := rb["access_token"].(string)
			_, ib := post(t, srv.URL+"/oauth/introspect", url.Values{"token": {at}}, "web", e.secret)
			if ib["active"] != true || slices.Contains(scopeOf(ib), opstore.ScopeAdmin) {
				t.Fatalf("introspection after the refresh: %v", ib)
			}
		})
	})
}
