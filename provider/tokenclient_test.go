package provider_test

import (
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// TestFailedCodeExchangeLeavesTheCode: an exchange that is not the
// client's own (no secret, a wrong one, another client, a wrong PKCE
// verifier) is refused and does not burn the code: the application
// redeems it afterwards.
func TestFailedCodeExchangeLeavesTheCode(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := s.NewBrowser(t)
		signIn(t, s, b, rp) // later requests complete by single sign-on

		tests := []struct {
			name           string
			basicID, basic string                             // Basic credentials, if any
			form           func(a *pt.AuthRequest) url.Values // beside grant_type, code, redirect_uri
			status         int
			error          string
		}{
			{"missing-secret", "", "", func(a *pt.AuthRequest) url.Values {
				return url.Values{"client_id": {pt.WebClient}, "code_verifier": {a.Verifier}}
			}, http.StatusUnauthorized, "invalid_client"},
			{"wrong-secret-basic", pt.WebClient, "wrong-secret", func(a *pt.AuthRequest) url.Values {
				return url.Values{"code_verifier": {a.Verifier}}
			}, http.StatusUnauthorized, "invalid_client"},
			{"wrong-secret-post", "", "", func(a *pt.AuthRequest) url.Values {
				return url.Values{"client_id": {pt.WebClient}, "client_secret": {"wrong-secret"}, "code_verifier": {a.Verifier}}
			}, http.StatusUnauthorized, "invalid_client"},
			{"missing-secret-without-verifier", "", "", func(*pt.AuthRequest) url.Values {
				return url.Values{"client_id": {pt.WebClient}}
			}, http.StatusUnauthorized, "invalid_client"},
			{"no-client-at-all", "", "", func(a *pt.AuthRequest) url.Values {
				return url.Values{"code_verifier": {a.Verifier}}
			}, http.StatusUnauthorized, "invalid_client"},
			{"unknown-client", "nobody", "whatever", func(a *pt.AuthRequest) url.Values {
				return url.Values{"code_verifier": {a.Verifier}}
			}, http.StatusUnauthorized, "invalid_client"},
			{"basic-and-form-secret", pt.WebClient, "wrong-secret", func(a *pt.AuthRequest) url.Values {
				return url.Values{"client_secret": {"also-wrong"}, "code_verifier": {a.Verifier}}
			}, http.StatusBadRequest, "invalid_request"},
			{"client-assertion", "", "", func(a *pt.AuthRequest) url.Values {
				return url.Values{"client_id": {pt.WebClient}, "code_verifier": {a.Verifier},
					"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {"x.y.z"}}
			}, http.StatusUnauthorized, "invalid_client"},
			{"another-confidential-client", pt.ES256Client, pt.ES256Secret, func(a *pt.AuthRequest) url.Values {
				return url.Values{"code_verifier": {a.Verifier}}
			}, http.StatusBadRequest, "invalid_grant"},
			{"a-public-client-naming-itself", "", "", func(a *pt.AuthRequest) url.Values {
				return url.Values{"client_id": {pt.PublicClient}, "code_verifier": {a.Verifier}}
			}, http.StatusBadRequest, "invalid_grant"},
			{"right-client-wrong-verifier", pt.WebClient, pt.WebSecret, func(*pt.AuthRequest) url.Values {
				return url.Values{"code_verifier": {oauth2.GenerateVerifier()}}
			}, http.StatusBadRequest, "invalid_grant"},
			{"right-client-no-verifier", pt.WebClient, pt.WebSecret, func(*pt.AuthRequest) url.Values {
				return url.Values{}
			}, http.StatusBadRequest, "invalid_grant"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a := rp.Start()
				code := rp.Callback(a, b.Get(a.URL)).Get("code")
				form := tt.form(a)
				form.Set("grant_type", "authorization_code")
				form.Set("code", code)
				form.Set("redirect_uri", pt.WebRedirect)
				status, body := s.PostForm(t, "/oauth/token", tt.basicID, tt.basic, form)
				if status != tt.status || body["error"] != tt.error {
					t.Fatalf("attack exchange: %d %v, want %d %s", status, body, tt.status, tt.error)
				}
				if _, ok := body["access_token"]; ok {
					t.Fatal("the attack got tokens")
				}
				tok, err := rp.Exchange(t.Context(), a, code)
				if err != nil {
					t.Fatalf("the application's own exchange after the attack: %v", err)
				}
				if tok.OAuth.AccessToken == "" || tok.OAuth.RefreshToken == "" {
					t.Fatalf("tokens: %+v", tok.OAuth)
				}
				// The code is spent now: a second redemption is refused.
				if _, err := rp.Exchange(t.Context(), a, code); !isOAuthError(err, "invalid_grant") {
					t.Fatalf("second redemption: %v", err)
				}
			})
		}
	})
}

// TestRefreshWithUnknownClientIsInvalidClient: a refresh grant naming a
// client that does not exist is the caller's error, RFC 6749 §5.2
// invalid_client (401), not a 500; the refresh token stays usable.
func TestRefreshWithUnknownClientIsInvalidClient(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		_, tok := signIn(t, s, s.NewBrowser(t), rp)
		refresh := tok.OAuth.RefreshToken
		tests := []struct {
			name           string
			basicID, basic string
			form           url.Values
		}{
			{"unknown-public-client-id", "", "", url.Values{"client_id": {"no-such-client"}}},
			{"unknown-client-basic", "no-such-client", "whatever", url.Values{}},
			{"overlong-client-id", "", "", url.Values{"client_id": {string(make([]byte, 100))}}},
			{"no-client-id", "", "", url.Values{}},
			{"confidential-client-without-secret", "", "", url.Values{"client_id": {pt.WebClient}}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				form := tt.form
				form.Set("grant_type", "refresh_token")
				form.Set("refresh_token", refresh)
				status, body := s.PostForm(t, "/oauth/token", tt.basicID, tt.basic, form)
				if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
					t.Fatalf("refresh: %d %v, want 401 invalid_client", status, body)
				}
			})
		}
		if status, body := s.Refresh(t, pt.WebClient, pt.WebSecret, refresh); status != http.StatusOK {
			t.Fatalf("the application's own refresh afterwards: %d %v", status, body)
		}
	})
}

// TestPublicClientCodeSurvivesWrongVerifier: a public client's proof is its
// PKCE verifier; a stolen code presented without the right one is refused
// and stays redeemable by the application.
func TestPublicClientCodeSurvivesWrongVerifier(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.PublicClient, "", pt.PublicRedirect)
		b := s.NewBrowser(t)
		tests := []struct {
			name     string
			verifier string // "" sends none
		}{
			{"wrong-verifier", oauth2.GenerateVerifier()},
			{"no-verifier", ""},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a := rp.Start()
				res := b.Get(a.URL)
				if i == 0 {
					res = b.SignIn(res.Page, pt.Username, pt.Password)
				}
				code := rp.Callback(a, res).Get("code")
				form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {pt.PublicRedirect},
					"client_id": {pt.PublicClient}}
				if tt.verifier != "" {
					form.Set("code_verifier", tt.verifier)
				}
				if status, body := s.PostForm(t, "/oauth/token", "", "", form); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
					t.Fatalf("attack exchange: %d %v", status, body)
				}
				if _, err := rp.Exchange(t.Context(), a, code); err != nil {
					t.Fatalf("the application's own exchange after the attack: %v", err)
				}
			})
		}
	})
}
