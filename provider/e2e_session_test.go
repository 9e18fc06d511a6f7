package provider_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/account"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/user"
)

func TestSingleSignOnPromptAndMaxAge(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		ctx := t.Context()
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		es := s.NewRP(t, pt.ES256Client, pt.ES256Secret, pt.ES256Redirect)
		b := s.NewBrowser(t)

		t.Run("prompt-none-without-session", func(t *testing.T) {
			a := rp.Start(pt.Param("prompt", "none"))
			res := b.Get(a.URL)
			q := rp.Callback(a, res)
			if q.Get("error") != "login_required" || q.Get("code") != "" || q.Get("iss") != s.URL {
				t.Fatalf("prompt=none answered %v", q)
			}
		})
		_, first := signIn(t, s, b, rp)
		firstAuth := claimsOf(t, first).AuthTime

		t.Run("sso-second-app-without-form", func(t *testing.T) {
			a := es.Start()
			res := b.Get(a.URL)
			q := es.Callback(a, res) // no page in between
			tok, err := es.Exchange(ctx, a, q.Get("code"))
			if err != nil {
				t.Fatal(err)
			}
			if c := claimsOf(t, tok); c.AuthTime != firstAuth || c.Sub != s.User.ID {
				t.Fatalf("SSO claims %+v, want auth_time %d", c, firstAuth)
			}
		})
		t.Run("prompt-none-with-session", func(t *testing.T) {
			a := rp.Start(pt.Param("prompt", "none"))
			q := rp.Callback(a, b.Get(a.URL))
			if q.Get("code") == "" {
				t.Fatalf("prompt=none with a session: %v", q)
			}
		})
		t.Run("max-age-satisfied", func(t *testing.T) {
			s.Clock.Advance(2 * time.Minute)
			a := rp.Start(pt.Param("max_age", "3600"))
			q := rp.Callback(a, b.Get(a.URL))
			tok, err := rp.Exchange(ctx, a, q.Get("code"))
			if err != nil {
				t.Fatal(err)
			}
			if c := claimsOf(t, tok); c.AuthTime != firstAuth {
				t.Fatalf("auth_time %d, want the session's %d", c.AuthTime, firstAuth)
			}
		})
		t.Run("max-age-exceeded", func(t *testing.T) {
			a := rp.Start(pt.Param("max_age", "60"))
			res := b.Get(a.URL)
			if res.Page == nil || res.Page.URL.Path != "/login" {
				t.Fatalf("max_age exceeded but no sign-in form: %s", res)
			}
			q := rp.Callback(a, b.SignIn(res.Page, pt.Username, pt.Password))
			tok, err := rp.Exchange(ctx, a, q.Get("code"))
			if err != nil {
				t.Fatal(err)
			}
			if c := claimsOf(t, tok); c.AuthTime <= firstAuth {
				t.Fatalf("auth_time %d not renewed (was %d)", c.AuthTime, firstAuth)
			}
		})
		t.Run("max-age-zero", func(t *testing.T) {
			a := rp.Start(pt.Param("max_age", "0"))
			if res := b.Get(a.URL); res.Page == nil || res.Page.URL.Path != "/login" {
				t.Fatalf("max_age=0 skipped the form: %s", res)
			}
		})
		t.Run("prompt-login", func(t *testing.T) {
			a := rp.Start(pt.Param("prompt", "login"))
			res := b.Get(a.URL)
			if res.Page == nil || res.Page.URL.Path != "/login" {
				t.Fatalf("prompt=login skipped the form: %s", res)
			}
		})
		t.Run("id-token-hint-for-another-user", func(t *testing.T) {
			// The session's user matches the hint: SSO works.
			a := rp.Start(pt.Param("id_token_hint", first.Raw), pt.Param("prompt", "none"))
			if q := rp.Callback(a, b.Get(a.URL)); q.Get("code") == "" {
				t.Fatalf("matching id_token_hint refused: %v", q)
			}
			other, err := s.Users.Create(ctx, userNew("bob"))
			if err != nil {
				t.Fatal(err)
			}
			b2 := s.NewBrowser(t)
			a2 := rp.Start()
			q := rp.Callback(a2, b2.SignIn(b2.Get(a2.URL).Page, "bob", "bob's long password 1"))
			bobTok, err := rp.Exchange(ctx, a2, q.Get("code"))
			if err != nil || bobTok.IDToken.Subject != other.ID {
				t.Fatalf("bob: %v", err)
			}
			// Alice's browser, Bob's hint: no silent answer for Alice.
			a3 := rp.Start(pt.Param("id_token_hint", bobTok.Raw), pt.Param("prompt", "none"))
			if q := rp.Callback(a3, b.Get(a3.URL)); q.Get("error") != "login_required" {
				t.Fatalf("hint for bob answered with alice's session: %v", q)
			}
			// Signing in as Alice on a request hinted for Bob is refused.
			b3 := s.NewBrowser(t)
			a4 := rp.Start(pt.Param("id_token_hint", bobTok.Raw))
			res := b3.SignIn(b3.Get(a4.URL).Page, pt.Username, pt.Password)
			if res.Redirect != nil || !strings.Contains(res.Page.Text("#login-error"), "different account") {
				t.Fatalf("wrong account accepted for a hinted request: %s", res)
			}
		})
	})
}

func TestConsentForThirdPartyClients(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		ctx := t.Context()
		rp := s.NewRP(t, pt.ThirdPartyClient, pt.ThirdPartySecret, pt.ThirdPartyRedirect)
		b := s.NewBrowser(t)

		t.Run("prompt-none-needs-consent", func(t *testing.T) {
			_, _ = signIn(t, s, b, s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect))
			a := rp.Start(pt.Param("prompt", "none"))
			if q := rp.Callback(a, b.Get(a.URL)); q.Get("error") != "consent_required" {
				t.Fatalf("prompt=none without consent: %v", q)
			}
		})
		t.Run("deny", func(t *testing.T) {
			a := rp.Start()
			res := b.Get(a.URL)
			if res.Page == nil || res.Page.URL.Path != "/consent" {
				t.Fatalf("no consent page: %s", res)
			}
			q := rp.Callback(a, b.Submit(res.Page, `form[action="/consent"]`, map[string]string{"decision": "deny"}))
			if q.Get("error") != "access_denied" || q.Get("code") != "" {
				t.Fatalf("deny answered %v", q)
			}
		})
		t.Run("allow-is-remembered", func(t *testing.T) {
			a := rp.Start()
			res := b.Get(a.URL)
			if res.Page == nil || res.Page.URL.Path != "/consent" {
				t.Fatalf("no consent page: %s", res)
			}
			text := res.Page.Text("ul.scopes")
			for _, want := range []string{"See your email address", "See your name and username", "Keep access"} {
				if !strings.Contains(text, want) {
					t.Errorf("consent page does not list %q: %s", want, text)
				}
			}
			q := rp.Callback(a, b.Submit(res.Page, `form[action="/consent"]`, map[string]string{"decision": "allow"}))
			if _, err := rp.Exchange(ctx, a, q.Get("code")); err != nil {
				t.Fatal(err)
			}
			a2 := rp.Start()
			if q := rp.Callback(a2, b.Get(a2.URL)); q.Get("code") == "" {
				t.Fatalf("consent asked again: %v", q)
			}
		})
		t.Run("prompt-consent-asks-again", func(t *testing.T) {
			a := rp.Start(pt.Param("prompt", "consent"))
			res := b.Get(a.URL)
			if res.Page == nil || res.Page.URL.Path != "/consent" {
				t.Fatalf("prompt=consent skipped the consent page: %s", res)
			}
			q := rp.Callback(a, b.Submit(res.Page, `form[action="/consent"]`, map[string]string{"decision": "allow"}))
			if q.Get("code") == "" {
				t.Fatalf("no code after consenting again: %v", q)
			}
		})
		t.Run("consent-page-of-another-user", func(t *testing.T) {
			a := rp.Start(pt.Param("scope", "openid phone"))
			other := s.NewBrowser(t)
			res := b.Get(a.URL)
			if res.Page == nil || res.Page.URL.Path != "/consent" {
				t.Fatalf("no consent page for new scopes: %s", res)
			}
			// Another browser (no session) cannot answer it.
			res2 := other.Submit(res.Page, `form[action="/consent"]`, map[string]string{"decision": "allow"})
			if res2.Redirect != nil || res2.Page.Status < 400 {
				t.Fatalf("consent from another browser: %s", res2)
			}
		})
	})
}

func TestLogout(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		var disc struct {
			EndSession string `json:"end_session_endpoint"`
		}
		if err := rp.Provider.Claims(&disc); err != nil || disc.EndSession == "" {
			t.Fatalf("no end_session_endpoint: %v", err)
		}
		b := s.NewBrowser(t)
		_, tok := signIn(t, s, b, rp)

		t.Run("unregistered-post-logout-uri", func(t *testing.T) {
			res := b.Get(disc.EndSession + "?id_token_hint=" + tok.Raw + "&post_logout_redirect_uri=https://evil.example/")
			if res.Redirect != nil {
				t.Fatalf("redirected to %s", res.Redirect)
			}
			// Plain words and what to do; the library's text only in the log.
			if p := res.Page.Text("main p"); res.Page.Status != http.StatusBadRequest || !strings.Contains(p, "go back to the application") ||
				strings.Contains(strings.ToLower(p), "post_logout_redirect_uri") {
				t.Fatalf("not the friendly error page: %d %s", res.Page.Status, res.Page.Body)
			}
		})
		t.Run("forged-logout-target", func(t *testing.T) {
			b2 := s.NewBrowser(t)
			res := b2.Get(s.URL + "/logout?to=https://evil.example/&sig=AAAA")
			if res.Redirect != nil || res.Page.Status != http.StatusOK {
				t.Fatalf("forged target followed: %s", res)
			}
		})
		t.Run("rp-initiated", func(t *testing.T) {
			res := b.Get(disc.EndSession + "?id_token_hint=" + tok.Raw + "&post_logout_redirect_uri=" + pt.WebPostLogout + "&state=bye1")
			if res.Redirect == nil || !strings.HasPrefix(res.Redirect.String(), pt.WebPostLogout) || res.Redirect.Query().Get("state") != "bye1" {
				t.Fatalf("logout ended at %s", res)
			}
			// The session is gone: the next request shows the form again
			// and the tokens of that sign-in are revoked.
			a := rp.Start()
			if res := b.Get(a.URL); res.Page == nil || res.Page.URL.Path != "/login" {
				t.Fatalf("still signed in after logout: %s", res)
			}
			if code, _ := s.Refresh(t, pt.WebClient, pt.WebSecret, tok.OAuth.RefreshToken); code == http.StatusOK {
				t.Fatal("refresh token survived logout")
			}
		})
	})
}

func TestClientCredentialsAndAlgorithms(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		code, m := s.PostForm(t, "/oauth/token", pt.ServiceClient, pt.ServiceSecret, map[string][]string{"grant_type": {"client_credentials"}})
		if code != http.StatusOK || m["access_token"] == nil {
			t.Fatalf("client credentials: %d %v", code, m)
		}
		if active, _ := s.Introspect(t, pt.ServiceClient, pt.ServiceSecret, m["access_token"].(string)); !active {
			t.Fatal("client credentials token inactive")
		}
		if code, _ := s.PostForm(t, "/oauth/token", pt.ServiceClient, "wrong", map[string][]string{"grant_type": {"client_credentials"}}); code != http.StatusUnauthorized && code != http.StatusBadRequest {
			t.Fatalf("wrong secret: %d", code)
		}
		for _, g := range []string{"password", "urn:ietf:params:oauth:grant-type:jwt-bearer", "implicit"} {
			code, m := s.PostForm(t, "/oauth/token", pt.ServiceClient, pt.ServiceSecret, map[string][]string{"grant_type": {g}, "username": {pt.Username}, "password": {pt.Password}})
			if code != http.StatusBadRequest || m["error"] != "unsupported_grant_type" {
				t.Fatalf("grant %s: %d %v", g, code, m)
			}
		}

		b := s.NewBrowser(t)
		for _, tc := range []struct{ client, secret, redirect, alg string }{
			{pt.WebClient, pt.WebSecret, pt.WebRedirect, "RS256"},
			{pt.ES256Client, pt.ES256Secret, pt.ES256Redirect, "ES256"},
		} {
			rp := s.NewRP(t, tc.client, tc.secret, tc.redirect)
			_, tok := signIn(t, s, b, rp)
			if alg := jwtAlg(t, tok.Raw); alg != tc.alg {
				t.Errorf("%s got a %s ID token, want %s", tc.client, alg, tc.alg)
			}
		}
	})
}

func userNew(name string) user.NewUser {
	return user.NewUser{Username: name, Email: name + "@example.com", Password: name + "'s long password 1"}
}

// jwtAlg returns the alg header of a compact JWS.
func jwtAlg(t *testing.T, raw string) string {
	t.Helper()
	h, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(b, &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr.Alg
}

func TestAccountPageAndSignOut(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		b := s.NewBrowser(t)
		if res := b.Get(s.URL + "/"); res.Page == nil || res.Page.URL.Path != "/login" {
			t.Fatalf("account page without a session: %s", res)
		}
		// Signing in without an application lands on the account page.
		res := b.SignIn(b.Get(s.URL+"/login").Page, pt.Username, pt.Password)
		if res.Page == nil || res.Page.URL.Path != "/" || res.Statuses[0] != http.StatusSeeOther {
			t.Fatalf("direct sign-in: %s", res)
		}
		if !strings.Contains(res.Page.Text("h1"), "Alice Example") || res.Page.Doc.Find(`a[href="/security-info"]`).Length() != 1 {
			t.Fatalf("account page: %s", res.Page.Body)
		}
		out := b.Submit(res.Page, `form[action="/logout"]`, nil)
		if out.Page == nil || !strings.Contains(out.Page.Text("h1"), "signed out") {
			t.Fatalf("sign out: %s", out)
		}
		if res := b.Get(s.URL + "/"); res.Page.URL.Path != "/login" {
			t.Fatal("still signed in after signing out")
		}
		// The session row is gone after a cleanup pass once long expired.
		var n int64
		s.DB.Table("user_sessions").Count(&n)
		s.Clock.Advance(48 * time.Hour)
		s.Provider.Cleanup(t.Context())
		var m int64
		s.DB.Table("user_sessions").Count(&m)
		if n == 0 || m != 0 {
			t.Fatalf("sessions before cleanup %d, after %d", n, m)
		}
		// Metrics count sign-ins by outcome.
		if body := scrape(t, s); !strings.Contains(body, `latchkey_signins_total{method="pwd",outcome="ok"} 1`) {
			t.Fatalf("metrics: %.2000s", body)
		}
	})
}

func TestDevModeOverPlainHTTP(t *testing.T) {
	s := pt.Start(t, dbURL(t), pt.Config{Insecure: true})
	rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
	b := s.NewBrowser(t)
	a := rp.Start()
	res := b.Get(a.URL)
	if res.Page.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS over plain http")
	}
	q := rp.Callback(a, b.SignIn(res.Page, pt.Username, pt.Password))
	if _, err := rp.Exchange(t.Context(), a, q.Get("code")); err != nil {
		t.Fatal(err)
	}
	if b.Cookie("lk_session") == nil || b.Cookie("__Host-lk_session") != nil {
		t.Fatal("dev-mode session cookie must be lk_session (browsers refuse __Host- over http)")
	}
}

func TestReadinessAndLifecycle(t *testing.T) {
	s := pt.Start(t, dbURL(t), pt.Config{})
	s.Provider.Start()
	s.Provider.Start() // idempotent
	done := make(chan struct{})
	go func() { _ = s.Provider.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	_ = s.Provider.Close() // twice is fine
	sqlDB, err := s.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	_ = sqlDB.Close()
	for path, want := range map[string]int{"/readyz": http.StatusServiceUnavailable, "/healthz": http.StatusOK} {
		res, err := s.HTTP.Client().Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("%s with the database down: %d, want %d", path, res.StatusCode, want)
		}
	}
}

// Checklist 36: RevokeAll (what a password reset runs) signs the user out
// of every browser and kills their refresh and access tokens.
func TestRevokeUserEverywhere(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		one, other := s.NewBrowser(t), s.NewBrowser(t)
		_, oneTok := signIn(t, s, one, rp)
		_, otherTok := signIn(t, s, other, rp)
		if err := s.Accounts.RevokeAll(t.Context(), s.User.ID, account.Keep{}, nil); err != nil {
			t.Fatal(err)
		}
		for name, tok := range map[string]*pt.Tokens{"one-browser": oneTok, "other-browser": otherTok} {
			if code, m := s.Refresh(t, pt.WebClient, pt.WebSecret, tok.OAuth.RefreshToken); code != http.StatusBadRequest || m["error"] != "invalid_grant" {
				t.Errorf("%s refresh after revoke: %d %v", name, code, m)
			}
			if active, _ := s.Introspect(t, pt.WebClient, pt.WebSecret, tok.OAuth.AccessToken); active {
				t.Errorf("%s access token still active", name)
			}
		}
		for name, b := range map[string]*pt.Browser{"one-browser": one, "other-browser": other} {
			a := rp.Start()
			if res := b.Get(a.URL); res.Page == nil || res.Page.URL.Path != "/login" {
				t.Errorf("%s still signed in: %s", name, res)
			}
		}
	})
}

// Issue 2 item 2: several instances on one database accept each other's
// codes, tokens and sessions and serve the same JWKS. Requests go
// round-robin to three providers, so every step of a flow lands on a
// different instance from the one before.
func TestSeveralInstancesShareOneDatabase(t *testing.T) {
	pt.Each(t, pt.Config{Instances: 3}, func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := s.NewBrowser(t)
		_, tok := signIn(t, s, b, rp)
		for range 3 {
			code, m := s.Refresh(t, pt.WebClient, pt.WebSecret, tok.OAuth.RefreshToken)
			if code != http.StatusOK {
				t.Fatalf("refresh on another instance: %d %v", code, m)
			}
			tok.OAuth.RefreshToken = m["refresh_token"].(string)
			if active, _ := s.Introspect(t, pt.WebClient, pt.WebSecret, m["access_token"].(string)); !active {
				t.Fatal("access token unknown to another instance")
			}
		}
		for range 3 { // SSO from every instance
			a := rp.Start()
			if q := rp.Callback(a, b.Get(a.URL)); q.Get("code") == "" {
				t.Fatalf("session not honoured by another instance: %v", q)
			}
		}
		var jwks []string
		for range 3 {
			res := b.Do(http.MethodGet, s.URL+"/keys", nil)
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			jwks = append(jwks, string(body))
		}
		if jwks[0] != jwks[1] || jwks[1] != jwks[2] || !strings.Contains(jwks[0], `"kid"`) {
			t.Fatalf("instances publish different key sets:\n%s\n%s\n%s", jwks[0], jwks[1], jwks[2])
		}
	})
}
