package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/compose"
	"github.com/latchkeyid/latchkey/plugin/console"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
	"github.com/latchkeyid/latchkey/provider/session"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/ui"
)

// consoleEnv is a provider with the plugin, the admin API and the admin
// console, mounted as serve mounts them.
type consoleEnv struct {
	t       *testing.T
	x       *plugintest.Env
	console *console.Console
	// admin has a password and an authenticator app (adminTOTP).
	admin     *user.User
	adminTOTP string
}

func startConsole(t *testing.T, dbURL string) *consoleEnv {
	t.Helper()
	e := &consoleEnv{t: t}
	render, err := ui.New()
	if err != nil {
		t.Fatal(err)
	}
	e.x = plugintest.Start(t, dbURL, plugintest.Options{Methods: []string{"totp", "email"},
		Mount: func(s *pt.Server, ec *echo.Echo, sspr *compose.SSPR) {
			_, a := mountTestAdminAPI(t, s, ec, sspr, ratelimit.Rule{})
			c, err := mountConsole(t.Context(), ec, ec, s.OPStore, a.consoleClient(s.Keyring), s.URL, render, s.Keyring, s.Users)
			if err != nil {
				t.Fatal(err)
			}
			e.console = c
		}})
	e.admin = e.x.Server.User
	e.setAdmin(e.admin, true)
	e.adminTOTP = e.x.EnrollTOTP(t)
	return e
}

func (e *consoleEnv) setAdmin(u *user.User, admin bool) {
	e.t.Helper()
	if err := e.x.Server.DB.Model(&user.User{}).Where("id = ?", u.ID).Update("admin", admin).Error; err != nil {
		e.t.Fatal(err)
	}
}

// newUser is another account with the test password.
func (e *consoleEnv) newUser(name string) *user.User {
	e.t.Helper()
	u, err := e.x.Server.Users.Create(e.t.Context(), user.NewUser{Username: name, Email: name + "@example.com", Password: pt.Password})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// adminIn is a new admin with an authenticator app, signed in to the
// console in a browser of its own.
func (e *consoleEnv) adminIn(t *testing.T, name string) (*user.User, *pt.Browser) {
	t.Helper()
	u := e.newUser(name)
	e.setAdmin(u, true)
	secret := e.x.EnrollTOTPFor(t, refOf(u))
	b := e.x.Server.NewBrowser(t)
	if r := e.signIn(b, "/admin", u.Username, secret); r.Page == nil || r.Page.URL.Path != "/admin" {
		t.Fatalf("sign-in: %s", r)
	}
	return u, b
}

func refOf(u *user.User) method.Ref {
	return method.Ref{ID: u.ID, Username: u.Username, Email: u.Email}
}

// signIn walks from a console page through the real sign-in pages: the
// password, then (with a TOTP secret) the second proof. It returns where
// the walk ended.
func (e *consoleEnv) signIn(b *pt.Browser, path, username, totpSecret string) *pt.Result {
	e.t.Helper()
	r := b.Get(e.x.Server.URL + path)
	if r.Page == nil || r.Page.Doc.Find(`form[action="/login"]`).Length() == 0 {
		e.t.Fatalf("GET %s: want the sign-in page, got %s", path, r)
	}
	r = b.SignIn(r.Page, username, pt.Password)
	if totpSecret == "" {
		return r
	}
	return e.secondProof(b, r, totpSecret)
}

// secondProof answers the second-proof page r shows with the app's code.
func (e *consoleEnv) secondProof(b *pt.Browser, r *pt.Result, totpSecret string) *pt.Result {
	e.t.Helper()
	if r.Page == nil || !strings.HasPrefix(r.Page.URL.Path, "/security-info/second-proof") {
		e.t.Fatalf("want the second-proof page, got %s", r)
	}
	choice, _ := r.Page.Doc.Find(`input[name="enrollment"]`).First().Attr("value")
	r = b.Submit(r.Page, `form[action="/security-info/verify"]`, map[string]string{"enrollment": choice})
	if r.Page == nil || r.Page.Doc.Find(`input[name="code"]`).Length() == 0 {
		e.t.Fatalf("after choosing the app: want the code field, got %s", r)
	}
	code, _ := totp.Code(totpSecret, e.x.Server.Clock.Now())
	r = b.Submit(r.Page, `form[action^="/security-info/verify/"]`, map[string]string{"code": code})
	e.x.Server.Clock.Advance(30 * time.Second) // the next code is another one
	return r
}

// TestConsoleSignInNeedsTwoProofs: the console opens only after the real
// sign-in pages took the password and a second method, for an admin, in
// the last 15 minutes.
func TestConsoleSignInNeedsTwoProofs(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		e := startConsole(t, dbURL)
		s := e.x.Server

		t.Run("admin-with-two-proofs", func(t *testing.T) {
			b := s.NewBrowser(t)
			r := e.signIn(b, "/admin/apps", e.admin.Username, e.adminTOTP)
			if r.Page == nil || r.Page.URL.Path != "/admin/apps" || r.Page.Status != http.StatusOK ||
				r.Page.Doc.Find("#app-new").Length() == 0 {
				t.Fatalf("want the apps page the walk started from, got %s", r)
			}
			second := 0
			for _, ev := range s.AuditEvents(t, audit.SignIn) {
				if ev.UserID == e.admin.ID && strings.Contains(ev.Detail, `"via":"second_proof"`) && strings.Contains(ev.Detail, `"amr":["pwd","otp"]`) {
					second++
				}
			}
			if second != 1 {
				t.Errorf("%d sign-in records of the second proof, want 1", second)
			}
		})

		t.Run("mfa-alias-gives-acr-2", func(t *testing.T) {
			// Any app may ask: acr_values=mfa is "2" by another name.
			rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect, "openid")
			a := rp.Start(pt.Param("acr_values", "mfa"))
			b := s.NewBrowser(t)
			r := b.Get(a.URL)
			if r.Page == nil {
				t.Fatalf("authorize: %s", r)
			}
			r = e.secondProof(b, b.SignIn(r.Page, e.admin.Username, pt.Password), e.adminTOTP)
			tok, err := rp.Exchange(t.Context(), a, rp.Callback(a, r).Get("code"))
			if err != nil {
				t.Fatal(err)
			}
			var cl struct {
				ACR string   `json:"acr"`
				AMR []string `json:"amr"`
			}
			if err := tok.IDToken.Claims(&cl); err != nil || cl.ACR != "2" || strings.Join(cl.AMR, " ") != "pwd otp" {
				t.Fatalf("ID token acr %q amr %v (%v), want 2 and pwd otp", cl.ACR, cl.AMR, err)
			}
		})

		t.Run("single-factor-session-steps-up", func(t *testing.T) {
			// Signed in with the password alone (for another page), the
			// browser is asked only for the second proof.
			b := s.NewBrowser(t)
			r := b.Get(s.URL + "/login")
			if r = b.SignIn(r.Page, e.admin.Username, pt.Password); r.Page == nil {
				t.Fatalf("plain sign-in: %s", r)
			}
			r = e.secondProof(b, b.Get(s.URL+"/admin"), e.adminTOTP)
			if r.Page == nil || r.Page.URL.Path != "/admin" {
				t.Fatalf("want the console, got %s", r)
			}
		})

		t.Run("second-proof-for-another-browsers-request", func(t *testing.T) {
			// Both proofs given in another browser do not complete the
			// request the admin's browser started (it is bound to it).
			victim := s.NewBrowser(t)
			r := victim.Get(s.URL + "/admin")
			id := r.Page.URL.Query().Get("authRequestID")
			if id == "" {
				t.Fatalf("no request: %s", r)
			}
			thief := s.NewBrowser(t)
			thief.SignIn(thief.Get(s.URL+"/login").Page, e.admin.Username, pt.Password)
			r = e.secondProof(thief, thief.Get(s.URL+"/security-info/second-proof?authRequestID="+url.QueryEscape(id)), e.adminTOTP)
			if r.Page == nil || r.Page.Status != http.StatusForbidden || strings.HasPrefix(r.Page.URL.Path, "/admin") {
				t.Fatalf("want the other-browser refusal, got %s", r)
			}
		})

		t.Run("same-kind-twice-is-not-two-proofs", func(t *testing.T) {
			// A session from a recovery by the app alone (amr otp) proving
			// the app again still has one kind of proof: refused, no code.
			sess, tok, err := session.NewStore(s.DB, session.WithClock(s.Clock.Now)).Create(t.Context(), nil, e.admin.ID, []string{"otp"}, s.Clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			b := s.NewBrowser(t)
			iss, _ := url.Parse(s.URL)
			b.Jar.SetCookies(iss, []*http.Cookie{{Name: "__Host-lk_session", Value: tok, Path: "/", Secure: true}})
			r := e.secondProof(b, b.Get(s.URL+"/admin"), e.adminTOTP)
			if r.Page == nil || r.Page.Status != http.StatusBadRequest || !strings.Contains(r.Page.Body, "Choose another of your methods") {
				t.Fatalf("want the same-proof page, got %s", r)
			}
			if live, _ := session.NewStore(s.DB).Live(t.Context(), sess.ID); !live {
				t.Error("the session was replaced for nothing")
			}
		})

		t.Run("admin-with-password-only", func(t *testing.T) {
			u := e.newUser("solo")
			e.setAdmin(u, true)
			r := e.signIn(s.NewBrowser(t), "/admin", u.Username, "")
			if r.Page == nil || r.Page.Status != http.StatusForbidden || r.Page.Doc.Find("#second-none").Length() == 0 ||
				r.Page.Doc.Find(`#second-add[href="/security-info"]`).Length() == 0 {
				t.Fatalf("want the add-a-second-method page, got %s", r)
			}
		})

		t.Run("user-with-two-proofs-not-admin", func(t *testing.T) {
			u := e.newUser("bob")
			secret := e.x.EnrollTOTPFor(t, refOf(u))
			r := e.signIn(s.NewBrowser(t), "/admin", u.Username, secret)
			if r.Page == nil || r.Page.Status != http.StatusForbidden || !strings.Contains(r.Page.Body, "not an administrator") {
				t.Fatalf("want the not-an-admin page, got %s", r)
			}
			if r.Page.URL.Path != console.CallbackPath {
				t.Errorf("refused at %s, want at the console's callback", r.Page.URL.Path)
			}
		})

		t.Run("old-sign-in-signs-in-again", func(t *testing.T) {
			b := s.NewBrowser(t)
			if r := e.signIn(b, "/admin", e.admin.Username, e.adminTOTP); r.Page == nil || r.Page.URL.Path != "/admin" {
				t.Fatalf("first sign-in: %s", r)
			}
			s.Clock.Advance(console.Freshness + time.Minute)
			// Back to sign in (max_age=900 makes the sign-in page ask
			// again), and back to the page asked for.
			r := e.signIn(b, "/admin/apps?cursor=x", e.admin.Username, e.adminTOTP)
			if r.Page == nil || r.Page.URL.RequestURI() != "/admin/apps?cursor=x" {
				t.Fatalf("want the page asked for again, got %s", r)
			}
		})

		// A change to the account mid-session takes the console away at
		// the next request.
		for _, tc := range []struct {
			name   string
			column string
			value  bool
			want   int // the answer to the next console page
		}{
			{"disabled-mid-session", "disabled", true, http.StatusSeeOther}, // to sign in, which refuses
			{"demoted-mid-session", "admin", false, http.StatusForbidden},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u, b := e.adminIn(t, tc.name)
				if err := s.DB.Model(&user.User{}).Where("id = ?", u.ID).Update(tc.column, tc.value).Error; err != nil {
					t.Fatal(err)
				}
				res := b.Do(http.MethodGet, s.URL+"/admin/apps", nil)
				res.Body.Close()
				if res.StatusCode != tc.want || tc.want == http.StatusSeeOther && !strings.Contains(res.Header.Get("Location"), "/authorize?") {
					t.Fatalf("next page: %d %s, want %d", res.StatusCode, res.Header.Get("Location"), tc.want)
				}
			})
		}
	})
}

// Signing out of the console revokes its token: the session cookie,
// copied before and replayed after, opens nothing.
func TestConsoleSignOutRevokes(t *testing.T) {
	eachConsole(t, func(t *testing.T, e *consoleEnv, b *pt.Browser) {
		s := e.x.Server
		home := e.page(t, b, "/admin")
		iss, _ := url.Parse(s.URL)
		adminURL := &url.URL{Scheme: iss.Scheme, Host: iss.Host, Path: "/admin"}
		consoleCookie := func(b *pt.Browser) *http.Cookie {
			for _, c := range b.Jar.Cookies(adminURL) {
				if c.Name == "__Secure-lk_console" {
					return c
				}
			}
			return nil
		}
		stolen := consoleCookie(b)
		if stolen == nil || b.Cookie("__Secure-lk_console") != nil {
			t.Fatalf("want the console cookie on /admin only: %+v", stolen)
		}
		r := b.Submit(home, `form[action="/admin/sign-out"]`, nil)
		if r.Page == nil || r.Page.Doc.Find("#admin-sign-in").Length() == 0 {
			t.Fatalf("sign-out: %s", r)
		}
		if c := consoleCookie(b); c != nil {
			t.Fatalf("the cookie outlived the sign-out: %+v", c)
		}
		thief := s.NewBrowser(t)
		thief.Jar.SetCookies(adminURL, []*http.Cookie{{Name: stolen.Name, Value: stolen.Value, Path: "/admin", Secure: true}})
		res := thief.Do(http.MethodGet, s.URL+"/admin/apps", nil)
		res.Body.Close()
		if loc, _ := url.Parse(res.Header.Get("Location")); res.StatusCode != http.StatusSeeOther || loc.Path != "/authorize" {
			t.Fatalf("replayed cookie after sign-out: %d %s, want the sign-in", res.StatusCode, loc)
		}
	})
}

// Every console route without a console session redirects to the
// sign-in (the authorization endpoint, asking for two fresh proofs),
// never to the page.
func TestConsoleRoutesNeedTheSession(t *testing.T) {
	e := startConsole(t, dbtest.URL(t, dbtest.SQLite))
	s := e.x.Server
	b := s.NewBrowser(t)
	for _, r := range e.console.Routes() {
		path := strings.NewReplacer(":id", pt.WebClient, ":name", "coverage").Replace(r[1])
		var form url.Values
		if r[0] != http.MethodGet {
			form = url.Values{"csrf": {"x"}}
		}
		res := b.Do(r[0], s.URL+path, form)
		res.Body.Close()
		loc, _ := url.Parse(res.Header.Get("Location"))
		q := loc.Query()
		if res.StatusCode != http.StatusSeeOther || loc.Path != "/authorize" || q.Get("client_id") != console.ClientID ||
			q.Get("acr_values") != "2" || q.Get("max_age") != "900" || q.Get("code_challenge_method") != "S256" ||
			q.Get("nonce") == "" || q.Get("state") == "" {
			t.Errorf("%s %s: %d %s, want a 303 to sign in with two fresh proofs", r[0], path, res.StatusCode, loc)
		}
		if res.Header.Get("Content-Security-Policy") == "" || res.Header.Get("X-Frame-Options") != "DENY" ||
			res.Header.Get("Cache-Control") != "no-store" || res.Header.Get("Strict-Transport-Security") == "" {
			t.Errorf("%s %s: headers %v", r[0], path, res.Header)
		}
		// The sign-in's state rides in a sealed cookie for /admin only.
		ck := res.Header.Get("Set-Cookie")
		if !strings.HasPrefix(ck, "__Secure-lk_console_signin=") || !strings.Contains(ck, "Path=/admin;") ||
			!strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "Secure") || !strings.Contains(ck, "SameSite=Lax") {
			t.Errorf("%s %s: sign-in cookie %q", r[0], path, ck)
		}
	}
}

// eachConsole runs fn on both databases with a console and a browser
// signed in to it as the admin.
func eachConsole(t *testing.T, fn func(t *testing.T, e *consoleEnv, b *pt.Browser)) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		e := startConsole(t, dbURL)
		fn(t, e, e.signedIn(t))
	})
}

// signedIn is a browser with a fresh console session of the admin.
func (e *consoleEnv) signedIn(t *testing.T) *pt.Browser {
	t.Helper()
	b := e.x.Server.NewBrowser(t)
	if r := e.signIn(b, "/admin", e.admin.Username, e.adminTOTP); r.Page == nil || r.Page.URL.Path != "/admin" {
		t.Fatalf("sign-in: %s", r)
	}
	return b
}

// page gets a console page that must answer 200.
func (e *consoleEnv) page(t *testing.T, b *pt.Browser, path string) *pt.Page {
	t.Helper()
	r := b.Get(e.x.Server.URL + path)
	if r.Page == nil || r.Page.Status != http.StatusOK {
		t.Fatalf("GET %s: %s", path, r)
	}
	return r.Page
}

// The apps pages register, edit, regenerate and delete through the admin
// API, each problem shown beside its field.
func TestConsoleApps(t *testing.T) {
	eachConsole(t, func(t *testing.T, e *consoleEnv, b *pt.Browser) {
		s := e.x.Server
		form := e.page(t, b, "/admin/apps/new")

		// Every problem at once, each beside its field.
		r := b.Submit(form, "#app-form", map[string]string{"id": "bad id!", "redirect_uris": "not-a-url", "access_token_ttl": "soon"})
		if r.Page == nil || r.Page.Status != http.StatusBadRequest || r.Page.Doc.Find("#err-access_token_ttl").Length() == 0 {
			t.Fatalf("bad lifetime: %s", r)
		}
		// A refused form comes back with a new Idempotency-Key: a key is
		// one submission's.
		r = b.Submit(r.Page, "#app-form", map[string]string{"id": "bad id!", "redirect_uris": "not-a-url",
			"grant_types": "authorization_code", "public": "false", "access_token_ttl": ""})
		if r.Page == nil || r.Page.Status != http.StatusBadRequest || r.Page.Doc.Find("#err-id").Length() == 0 ||
			r.Page.Doc.Find("#err-redirect_uris").Length() == 0 || r.Page.Doc.Find(`#id[aria-invalid="true"]`).Length() == 0 {
			t.Fatalf("want the id and redirect problems beside their fields, got %s", r)
		}

		filled, wiki := r.Page, map[string]string{"id": "wiki", "name": "Team wiki",
			"redirect_uris": "https://wiki.example/callback\n\nhttps://wiki.example/cb2", "grant_types": "authorization_code",
			"public": "false", "id_token_alg": "ES256", "access_token_type": "jwt", "access_token_ttl": "300"}
		r = b.Submit(filled, "#app-form", wiki)
		if r.Page == nil || r.Page.Status != http.StatusOK {
			t.Fatalf("register: %s", r)
		}
		secret := r.Page.Text("#secret-value")
		if len(secret) < 32 || r.Page.Doc.Find("#snippet-go").Length() == 0 {
			t.Fatalf("want the secret once and the snippets, got %s", r.Page.Body)
		}
		// The same submission again (a double click, a resent form): its
		// Idempotency-Key replays the answer; nothing is created twice.
		if again := b.Submit(filled, "#app-form", wiki); again.Page == nil || again.Page.Status != http.StatusOK ||
			again.Page.Text("#secret-value") != secret {
			t.Fatalf("the resent form: %s", again)
		}
		c, err := s.OPStore.ClientByID(t.Context(), "wiki")
		if err != nil || c.IDTokenAlg() != "ES256" || c.AccessTokenFormat() != "jwt" || c.AccessTokenTTL() != 5*time.Minute ||
			len(c.RedirectURIs()) != 2 {
			t.Fatalf("stored app: %v %+v", err, c)
		}
		if err := s.OPStore.AuthorizeClientIDSecret(t.Context(), "wiki", secret); err != nil {
			t.Fatalf("the secret shown does not authenticate: %v", err)
		}
		if strings.Contains(e.page(t, b, "/admin/apps/wiki").Body, secret) {
			t.Fatal("the secret is shown again")
		}
		if n := len(s.AuditEvents(t, "admin.client.create")); n != 2 { // the refused try and the create
			t.Errorf("%d create records, want 2", n)
		}

		edit := e.page(t, b, "/admin/apps/wiki/edit")
		r = b.Submit(edit, "#app-form", map[string]string{"name": "Wiki", "redirect_uris": "https://wiki.example/callback",
			"grant_types": "authorization_code", "id_token_alg": "RS256", "access_token_type": "opaque", "third_party": "true"})
		if r.Page == nil || r.Page.URL.RequestURI() != "/admin/apps/wiki?done=saved" || r.Page.Doc.Find("#notice").Length() == 0 {
			t.Fatalf("edit: %s", r)
		}
		if c, _ := s.OPStore.ClientByID(t.Context(), "wiki"); c.GetName() != "Wiki" || !c.IsThirdParty() || len(c.RedirectURIs()) != 1 {
			t.Fatalf("edit not stored: %+v", c)
		}

		r = b.Submit(e.page(t, b, "/admin/apps/wiki/secret"), "#secret-form", map[string]string{"grace_period": "3600"})
		fresh := ""
		if r.Page != nil {
			fresh = r.Page.Text("#secret-value")
		}
		if fresh == "" || fresh == secret || r.Page.Doc.Find("#secret-grace").Length() == 0 {
			t.Fatalf("regenerate: %s", r)
		}
		for _, v := range []string{secret, fresh} { // the old one for the grace period
			if err := s.OPStore.AuthorizeClientIDSecret(t.Context(), "wiki", v); err != nil {
				t.Errorf("secret after regeneration: %v", err)
			}
		}

		r = b.Submit(e.page(t, b, "/admin/apps/wiki/delete"), "#delete-form", nil)
		if r.Page == nil || r.Page.URL.RequestURI() != "/admin/apps?done=deleted" {
			t.Fatalf("delete: %s", r)
		}
		if _, err := s.OPStore.ClientByID(t.Context(), "wiki"); err == nil {
			t.Fatal("the app is still there")
		}
		if r := b.Get(s.URL + "/admin/apps/wiki"); r.Page == nil || r.Page.Status != http.StatusNotFound {
			t.Fatalf("deleted app's page: %s", r)
		}
	})
}

// flipLast changes the last character of s.
func flipLast(s string) string {
	last := byte('A')
	if s[len(s)-1] == 'A' {
		last = 'B'
	}
	return s[:len(s)-1] + string(last)
}

// The console's own client cannot be deleted, edited or given a new
// secret through the console (or the API): it would lock the console out.
func TestConsoleOwnClientStays(t *testing.T) {
	e := startConsole(t, dbtest.URL(t, dbtest.SQLite))
	b := e.signedIn(t)
	r := b.Submit(e.page(t, b, "/admin/apps/"+console.ClientID+"/delete"), "#delete-form", nil)
	if r.Page == nil || r.Page.Status != http.StatusBadRequest || !strings.Contains(r.Page.Text("#form-problems"), "managed by the server") {
		t.Fatalf("deleting the console's client: %s", r)
	}
	r = b.Submit(e.page(t, b, "/admin/apps/"+console.ClientID+"/secret"), "#secret-form", map[string]string{"grace_period": "0"})
	if r.Page == nil || r.Page.Status != http.StatusBadRequest {
		t.Fatalf("regenerating the console's secret: %s", r)
	}
	if e.page(t, b, "/admin/apps").Doc.Find(`a[href="/admin/apps/`+console.ClientID+`"]`).Length() != 1 {
		t.Fatal("the console's client is gone")
	}
}

// A console form without this session's token, with another one, or
// from another origin is refused with a clear page and changes nothing.
func TestConsoleCSRF(t *testing.T) {
	eachConsole(t, func(t *testing.T, e *consoleEnv, b *pt.Browser) {
		s := e.x.Server
		form := e.page(t, b, "/admin/apps/new")
		good, _ := form.Doc.Find(`#app-form input[name="csrf"]`).Attr("value")
		other := e.signedIn(t) // another admin browser: its token is not this one's
		otherToken, _ := e.page(t, other, "/admin/apps/new").Doc.Find(`#app-form input[name="csrf"]`).Attr("value")
		fields := url.Values{"id": {"forged"}, "redirect_uris": {"https://forged.example/cb"}, "grant_types": {"authorization_code"}, "public": {"false"}}
		for _, tc := range []struct {
			name, token, origin, site string
		}{
			{"no-token", "", "", ""},
			{"wrong-token", flipLast(good), "", ""},
			{"other-sessions-token", otherToken, "", ""},
			{"other-origin", good, "https://evil.example", ""},
			{"null-origin", good, "null", ""},
			{"null-origin-same-site", good, "null", "same-site"},
			{"cross-site-fetch", good, "", "cross-site"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				v := url.Values{}
				for k, x := range fields {
					v[k] = x
				}
				if tc.token != "" {
					v.Set("csrf", tc.token)
				}
				b.Header = http.Header{}
				if tc.origin != "" {
					b.Header.Set("Origin", tc.origin)
				}
				if tc.site != "" {
					b.Header.Set("Sec-Fetch-Site", tc.site)
				}
				r := b.Navigate(http.MethodPost, s.URL+"/admin/apps/new", v)
				if r.Page == nil || r.Page.Status != http.StatusForbidden || !strings.Contains(r.Page.Body, "nothing was changed") {
					t.Fatalf("want the refusal page, got %s", r)
				}
			})
		}
		b.Header = http.Header{}
		if _, err := s.OPStore.ClientByID(t.Context(), "forged"); err == nil {
			t.Fatal("a refused form created the app")
		}
		if n := len(s.AuditEvents(t, "admin.client.create")); n != 0 {
			t.Fatalf("%d create records after refused forms", n)
		}
		// The same form with its own token, from this origin, goes through.
		b.Header.Set("Origin", s.URL)
		fields.Set("csrf", good)
		if r := b.Navigate(http.MethodPost, s.URL+"/admin/apps/new", fields); r.Page == nil || r.Page.Status != http.StatusOK {
			t.Fatalf("the genuine form: %s", r)
		}
	})
}
