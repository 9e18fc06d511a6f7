package provider_test

import (
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// TestMain keeps the OP library's per-request warnings (expected in the
// negative tests) out of the test output.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	os.Exit(m.Run())
}

// idClaims are the ID token claims the tests look at.
type idClaims struct {
	Sub      string   `json:"sub"`
	AuthTime int64    `json:"auth_time"`
	AMR      []string `json:"amr"`
	ACR      string   `json:"acr"`
	Nonce    string   `json:"nonce"`
	Email    string   `json:"email"`
}

func claimsOf(t *testing.T, tok *pt.Tokens) idClaims {
	t.Helper()
	var c idClaims
	if err := tok.IDToken.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// signIn runs a whole authorization request in browser b and returns the
// verified tokens.
func signIn(t *testing.T, s *pt.Server, b *pt.Browser, rp *pt.RP, params ...oauth2.AuthCodeOption) (*pt.AuthRequest, *pt.Tokens) {
	t.Helper()
	a := rp.Start(params...)
	res := b.Get(a.URL)
	if res.Page != nil {
		res = b.SignIn(res.Page, pt.Username, pt.Password)
	}
	q := rp.Callback(a, res)
	tok, err := rp.Exchange(t.Context(), a, q.Get("code"))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return a, tok
}

func TestCodeFlowWithPKCEEndToEnd(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		ctx := t.Context()
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := s.NewBrowser(t)
		a := rp.Start()
		res := b.Get(a.URL)
		if res.Page == nil || res.Page.Status != http.StatusOK || res.Page.URL.Path != "/login" {
			t.Fatalf("authorize did not land on the sign-in page: %s", res)
		}
		page := res.Page
		// The form a person sees: labelled fields with autocomplete, the
		// recovery links carrying the pending request.
		for sel, want := range map[string]string{
			`input#username[autocomplete="username"]`:                          "",
			`input#password[type="password"][autocomplete="current-password"]`: "",
			`label[for="username"]`:                                            "",
			`label[for="password"]`:                                            "",
			`input[type="hidden"][name="csrf"]`:                                "",
		} {
			if page.Doc.Find(sel).Length() != 1 {
				t.Errorf("sign-in page lacks %s %s", sel, want)
			}
		}
		id := page.Doc.Find(`input[name="authRequestID"]`).AttrOr("value", "")
		for text, href := range map[string]string{
			"Can't access your account?": "/recover?authRequestID=" + url.QueryEscape(id),
			"Forgot my password":         "/recover?authRequestID=" + url.QueryEscape(id) + "&reason=forgot",
		} {
			link := page.Doc.Find(`a:contains("` + text + `")`)
			if got := link.AttrOr("href", ""); got != href {
				t.Errorf("link %q -> %q, want %q", text, got, href)
			}
		}
		if !strings.Contains(page.Body, `name="viewport"`) {
			t.Error("page is not set up for phones")
		}

		before := s.Clock.Now().Truncate(time.Second)
		res = b.SignIn(page, pt.Username, pt.Password)
		if res.Statuses[0] != http.StatusSeeOther {
			t.Fatalf("sign-in POST answered %d, want 303", res.Statuses[0])
		}
		q := rp.Callback(a, res)
		if q.Get("iss") != s.URL {
			t.Errorf("authorization response iss = %q, want %q (RFC 9207)", q.Get("iss"), s.URL)
		}
		tok, err := rp.Exchange(ctx, a, q.Get("code"))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		c := claimsOf(t, tok)
		if c.Sub != s.User.ID || c.Nonce != a.Nonce || !slices.Equal(c.AMR, []string{"pwd"}) {
			t.Fatalf("ID token claims %+v", c)
		}
		if at := time.Unix(c.AuthTime, 0); at.Before(before.Add(-time.Second)) || at.After(s.Clock.Now().Add(time.Second)) {
			t.Fatalf("auth_time %v not the sign-in time (%v)", at, before)
		}

		// userinfo with the access token
		ui, err := rp.Provider.UserInfo(rp.Ctx(ctx), oauth2.StaticTokenSource(tok.OAuth))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		if ui.Subject != s.User.ID || ui.Email != pt.Email {
			t.Fatalf("userinfo %+v", ui)
		}

		// introspection sees an active token of this user
		active, m := s.Introspect(t, pt.WebClient, pt.WebSecret, tok.OAuth.AccessToken)
		if !active || m["sub"] != s.User.ID || m["client_id"] != pt.WebClient {
			t.Fatalf("introspect: %v", m)
		}

		// refresh rotates the refresh token and keeps the subject
		code, r1 := s.Refresh(t, pt.WebClient, pt.WebSecret, tok.OAuth.RefreshToken)
		if code != http.StatusOK || r1["refresh_token"] == tok.OAuth.RefreshToken || r1["access_token"] == nil {
			t.Fatalf("refresh: %d %v", code, r1)
		}
		if raw, _ := r1["id_token"].(string); raw != "" {
			idt, err := rp.Verifier.Verify(rp.Ctx(ctx), raw)
			if err != nil || idt.Subject != s.User.ID {
				t.Fatalf("refreshed ID token: %v", err)
			}
		}
		newAT, _ := r1["access_token"].(string)

		// revocation: the access token is dead afterwards
		if code := s.Revoke(t, pt.WebClient, pt.WebSecret, newAT, "access_token"); code != http.StatusOK {
			t.Fatalf("revoke: %d", code)
		}
		if active, _ := s.Introspect(t, pt.WebClient, pt.WebSecret, newAT); active {
			t.Fatal("revoked access token still active")
		}
		newRT, _ := r1["refresh_token"].(string)
		if code := s.Revoke(t, pt.WebClient, pt.WebSecret, newRT, "refresh_token"); code != http.StatusOK {
			t.Fatalf("revoke refresh: %d", code)
		}
		if code, m := s.Refresh(t, pt.WebClient, pt.WebSecret, newRT); code != http.StatusBadRequest || m["error"] != "invalid_grant" {
			t.Fatalf("revoked refresh token accepted: %d %v", code, m)
		}
	})
}

func TestTokenAbuseIsRefused(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		ctx := t.Context()
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := s.NewBrowser(t)

		t.Run("wrong-pkce-verifier", func(t *testing.T) {
			a := rp.Start()
			q := rp.Callback(a, b.SignIn(b.Get(a.URL).Page, pt.Username, pt.Password))
			a.Verifier = oauth2.GenerateVerifier()
			if _, err := rp.Exchange(ctx, a, q.Get("code")); !isOAuthError(err, "invalid_grant") {
				t.Fatalf("wrong verifier: %v", err)
			}
		})
		t.Run("code-reuse-revokes-tokens", func(t *testing.T) {
			a := rp.Start()
			res := b.Get(a.URL) // SSO from the previous subtest
			q := rp.Callback(a, res)
			tok, err := rp.Exchange(ctx, a, q.Get("code"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := rp.Exchange(ctx, a, q.Get("code")); !isOAuthError(err, "invalid_grant") {
				t.Fatalf("second redemption: %v", err)
			}
			if active, _ := s.Introspect(t, pt.WebClient, pt.WebSecret, tok.OAuth.AccessToken); active {
				t.Fatal("access token of a replayed code still active")
			}
			if code, _ := s.Refresh(t, pt.WebClient, pt.WebSecret, tok.OAuth.RefreshToken); code == http.StatusOK {
				t.Fatal("refresh token of a replayed code still works")
			}
		})
		t.Run("refresh-reuse-revokes-family", func(t *testing.T) {
			_, tok := signIn(t, s, b, rp)
			old := tok.OAuth.RefreshToken
			code, r1 := s.Refresh(t, pt.WebClient, pt.WebSecret, old)
			if code != http.StatusOK {
				t.Fatalf("first refresh: %d %v", code, r1)
			}
			if code, m := s.Refresh(t, pt.WebClient, pt.WebSecret, old); code != http.StatusBadRequest || m["error"] != "invalid_grant" {
				t.Fatalf("reused refresh token: %d %v", code, m)
			}
			if code, _ := s.Refresh(t, pt.WebClient, pt.WebSecret, r1["refresh_token"].(string)); code == http.StatusOK {
				t.Fatal("the family survived a reuse")
			}
		})
		t.Run("verifier-without-challenge", func(t *testing.T) {
			a := rp.Start()
			u, _ := url.Parse(a.URL)
			q := u.Query()
			q.Del("code_challenge")
			q.Del("code_challenge_method")
			u.RawQuery = q.Encode()
			a.URL = u.String()
			cb := rp.Callback(a, b.Get(a.URL))
			if _, err := rp.Exchange(ctx, a, cb.Get("code")); !isOAuthError(err, "invalid_grant") {
				t.Fatalf("verifier without a challenge: %v", err)
			}
		})
		t.Run("wrong-client-secret", func(t *testing.T) {
			a := rp.Start()
			q := rp.Callback(a, b.Get(a.URL))
			bad := *rp
			bad.Config.ClientSecret = "wrong"
			if _, err := bad.Exchange(ctx, a, q.Get("code")); !isOAuthError(err, "invalid_client") {
				t.Fatalf("wrong secret: %v", err)
			}
		})
		t.Run("refresh-by-another-client", func(t *testing.T) {
			_, tok := signIn(t, s, b, rp)
			if code, _ := s.Refresh(t, pt.ES256Client, pt.ES256Secret, tok.OAuth.RefreshToken); code == http.StatusOK {
				t.Fatal("a client redeemed another client's refresh token")
			}
		})
	})
}

// dbURL is a fresh SQLite database for tests that check HTTP behaviour
// only (the flows run on both backends).
func dbURL(t *testing.T) string { return dbtest.URL(t, dbtest.SQLite) }

func isOAuthError(err error, code string) bool {
	re, ok := err.(*oauth2.RetrieveError)
	return ok && re.ErrorCode == code
}

func TestAuthorizeRefusals(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		pub := s.NewRP(t, pt.PublicClient, "", pt.PublicRedirect)
		tests := []struct {
			name string
			url  func() string
		}{
			{"unknown-redirect-uri", func() string {
				evil := *rp
				evil.Config.RedirectURL = "https://evil.example/callback"
				return evil.Start().URL
			}},
			{"redirect-uri-prefix", func() string {
				evil := *rp
				evil.Config.RedirectURL = pt.WebRedirect + "/../evil"
				return evil.Start().URL
			}},
			{"unknown-client", func() string {
				evil := *rp
				evil.Config.ClientID = "nobody"
				return evil.Start().URL
			}},
			{"implicit-flow", func() string {
				return rp.Start(pt.Param("response_type", "id_token token")).URL
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res := s.NewBrowser(t).Get(tt.url())
				if res.Redirect != nil {
					t.Fatalf("refused request redirected to %s", res.Redirect)
				}
				if res.Page.Status < 400 || res.Page.Status >= 500 {
					t.Fatalf("status %d", res.Page.Status)
				}
				if !strings.Contains(res.Page.Body, `class="brand"`) || res.Page.Header.Get("Content-Security-Policy") == "" {
					t.Fatalf("not the friendly error page: %s", res.Page.Body)
				}
			})
		}
		t.Run("public-client-without-pkce", func(t *testing.T) {
			u := pub.Config.AuthCodeURL("state-1", pt.Param("nonce", "n"))
			res := s.NewBrowser(t).Get(u)
			if res.Redirect == nil || res.Redirect.Query().Get("error") == "" {
				if res.Page != nil && res.Page.Status >= 400 {
					return // refused without redirect is fine too
				}
				t.Fatalf("public client without PKCE accepted: %s", res)
			}
		})
		t.Run("plain-pkce-refused", func(t *testing.T) {
			u := pub.Config.AuthCodeURL("state-2", pt.Param("code_challenge", strings.Repeat("a", 43)), pt.Param("code_challenge_method", "plain"))
			res := s.NewBrowser(t).Get(u)
			if res.Page != nil && res.Page.URL.Path == "/login" {
				t.Fatal("plain PKCE accepted")
			}
		})
	})
}

func TestWrongPasswordAndLockout(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := s.NewBrowser(t)
		a := rp.Start()
		page := b.Get(a.URL).Page
		wrong := b.SignIn(page, pt.Username, "not the password")
		unknown := b.SignIn(page, "nobody-here", "not the password")
		for name, r := range map[string]*pt.Result{"wrong-password": wrong, "unknown-user": unknown} {
			if r.Page == nil || r.Page.Status != http.StatusUnauthorized {
				t.Fatalf("%s: %s", name, r)
			}
			if got := r.Page.Text("#login-error"); got != "The username or password is wrong." {
				t.Fatalf("%s: message %q", name, got)
			}
		}
		// The 10th wrong password locks the account (distinct ones: a repeat of
		// a recently tried password does not count again).
		var last *pt.Result
		for i := range 10 {
			last = b.SignIn(last0(last, page), pt.Username, "wrong-"+string(rune('a'+i)))
		}
		if last.Page == nil || !strings.Contains(last.Page.Text("#login-error"), "locked") {
			t.Fatalf("no lockout message after 11 wrong passwords: %s", last.Page.Body)
		}
		// Even the right password is refused while locked, and the page
		// says so and offers the unlock path.
		res := b.SignIn(page, pt.Username, pt.Password)
		if res.Page == nil || res.Page.Status != http.StatusForbidden {
			t.Fatalf("locked account signed in: %s", res)
		}
		msg := res.Page.Text("#login-error")
		if !strings.Contains(msg, "Your account is locked") || !strings.Contains(msg, "unlocks by itself at") {
			t.Fatalf("lock message %q", msg)
		}
		id := page.Doc.Find(`input[name="authRequestID"]`).AttrOr("value", "")
		unlock := res.Page.Doc.Find(`#login-error a`).AttrOr("href", "")
		if unlock != "/recover?authRequestID="+url.QueryEscape(id)+"&reason=unlock" {
			t.Fatalf("unlock link %q", unlock)
		}
		evs, err := s.Audit.List(t.Context(), audit.Filter{UserID: s.User.ID, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, e := range evs {
			count[e.Type+"/"+e.Outcome]++
			if strings.Contains(e.Detail, "wrong-") || strings.Contains(e.Detail, pt.Password) {
				t.Fatalf("audit detail leaks a password: %s", e.Detail)
			}
		}
		if count["lockout/blocked"] != 1 || count["signin.failed/fail"] != 9 || count["signin.failed/blocked"] != 3 {
			t.Fatalf("audit events %v", count)
		}
		// After the lock expires the right password works again.
		s.Clock.Advance(2 * time.Minute)
		q := rp.Callback(a, b.SignIn(page, pt.Username, pt.Password))
		if q.Get("code") == "" {
			t.Fatal("no code after the lock expired")
		}
	})
}

func last0(r *pt.Result, p *pt.Page) *pt.Page {
	if r != nil && r.Page != nil && r.Page.Doc.Find(`form[action="/login"]`).Length() == 1 {
		return r.Page
	}
	return p
}
