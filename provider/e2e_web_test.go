package provider_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// Checklist J (59-62): headers, cookies, CSRF, Host and proxies on the
// real server over TLS.
func TestPagesHeadersCookiesAndCSRF(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := s.NewBrowser(t)
		a := rp.Start()
		res := b.Get(a.URL)
		h := res.Page.Header
		if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" ||
			!strings.HasPrefix(h.Get("Strict-Transport-Security"), "max-age=63072000") ||
			!strings.Contains(h.Get("Cache-Control"), "no-store") {
			t.Fatalf("sign-in page headers: %v", h)
		}

		// CSRF: the same form without the token, or with another one, is refused.
		id := res.Page.Doc.Find(`input[name="authRequestID"]`).AttrOr("value", "")
		for name, token := range map[string]string{"missing": "", "forged": strings.Repeat("x", 43)} {
			form := url.Values{"authRequestID": {id}, "username": {pt.Username}, "password": {pt.Password}}
			if token != "" {
				form.Set("csrf", token)
			}
			r := b.Navigate(http.MethodPost, s.URL+"/login", form)
			if r.Redirect != nil || r.Page.Status != http.StatusForbidden {
				t.Fatalf("%s CSRF token: %s", name, r)
			}
		}

		res = b.SignIn(res.Page, pt.Username, pt.Password)
		if res.Statuses[0] != http.StatusSeeOther {
			t.Fatalf("credential POST answered %d", res.Statuses[0])
		}
		// Cookies with their attributes, as a fresh browser receives them.
		raw := collectSetCookies(t, s)
		for _, name := range []string{"__Host-lk_session", "__Host-csrf", "__Host-lk_bind"} {
			c, ok := raw[name]
			if !ok {
				t.Errorf("cookie %s not set (got %v)", name, keys(raw))
				continue
			}
			if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || len(c.Value) < 32 {
				t.Errorf("cookie %s = %+v", name, c)
			}
		}
	})
}

// collectSetCookies signs in a fresh browser and returns every cookie the
// server set, with attributes.
func collectSetCookies(t *testing.T, s *pt.Server) map[string]*http.Cookie {
	t.Helper()
	rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
	b := s.NewBrowser(t)
	out := map[string]*http.Cookie{}
	a := rp.Start()
	next := a.URL
	var form url.Values
	method, posted := http.MethodGet, false
	for range 10 {
		resp := b.Do(method, next, form)
		for _, c := range resp.Cookies() {
			if c.MaxAge >= 0 {
				out[c.Name] = c
			}
		}
		if resp.StatusCode == http.StatusOK && !posted {
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			csrf := between(string(page), `name="csrf" value="`, `"`)
			id := between(string(page), `name="authRequestID" value="`, `"`)
			form = url.Values{"csrf": {csrf}, "authRequestID": {id}, "username": {pt.Username}, "password": {pt.Password}}
			method, next, posted = http.MethodPost, s.URL+"/login", true
			continue
		}
		resp.Body.Close()
		loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
		if err != nil || !s.Owns(loc) {
			break
		}
		method, next, form = http.MethodGet, loc.String(), nil
	}
	return out
}

func between(s, start, end string) string {
	_, after, _ := strings.Cut(s, start)
	v, _, _ := strings.Cut(after, end)
	return v
}

func keys(m map[string]*http.Cookie) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestUnknownHostIsRefused(t *testing.T) {
	s := pt.Start(t, dbURL(t), pt.Config{})
	for _, path := range []string{"/login", "/.well-known/openid-configuration", "/oauth/token"} {
		req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
		req.Host = "evil.example"
		res, err := s.HTTP.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("%s with Host evil.example: %d, want 421", path, res.StatusCode)
		}
	}
	// Discovery never reflects a forwarded host.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/.well-known/openid-configuration", nil)
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set("Forwarded", "host=evil.example;proto=http")
	res, err := s.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if strings.Contains(string(body), "evil.example") {
		t.Fatalf("discovery reflects a forwarded host: %s", body)
	}
}

func TestClientIPFromTrustedProxiesOnly(t *testing.T) {
	tests := []struct {
		name    string
		proxies []string
		xff     string
		want    string
	}{
		{"no-proxy-configured", nil, "198.51.100.7", "127.0.0.1"},
		{"trusted-loopback-proxy", []string{"127.0.0.1/32"}, "198.51.100.7", "198.51.100.7"},
		{"garbage", []string{"127.0.0.1/32"}, "<script>", "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := pt.Start(t, dbURL(t), pt.Config{Provider: func(o *provider.Options) { o.TrustedProxies = tt.proxies }})
			rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
			b := s.NewBrowser(t)
			b.Header.Set("X-Forwarded-For", tt.xff)
			a := rp.Start()
			b.SignIn(b.Get(a.URL).Page, pt.Username, "wrong password here")
			evs, err := s.Audit.List(t.Context(), audit.Filter{UserID: s.User.ID})
			if err != nil || len(evs) == 0 {
				t.Fatalf("no audit event: %v", err)
			}
			if evs[0].Type != audit.SignInFailed || evs[0].IP != tt.want {
				t.Fatalf("audit %s from %q, want %q", evs[0].Type, evs[0].IP, tt.want)
			}
		})
	}
}

func TestOPEndpointsHygiene(t *testing.T) {
	s := pt.Start(t, dbURL(t), pt.Config{})
	get := func(path string, hdr map[string]string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := s.HTTP.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := get("/.well-known/openid-configuration", map[string]string{"Origin": "https://spa.example"})
	var d map[string]any
	if err := json.NewDecoder(res.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") == "" || res.Header.Get("Access-Control-Allow-Credentials") == "true" {
		t.Errorf("discovery CORS: %v", res.Header)
	}
	if got := d["response_types_supported"]; !equalJSON(got, []string{"code"}) {
		t.Errorf("response_types_supported = %v", got)
	}
	if got := d["code_challenge_methods_supported"]; !equalJSON(got, []string{"S256"}) {
		t.Errorf("code_challenge_methods_supported = %v", got)
	}
	for _, g := range d["grant_types_supported"].([]any) {
		if g == "implicit" || g == "password" {
			t.Errorf("discovery offers %v", g)
		}
	}
	if d["authorization_response_iss_parameter_supported"] != true {
		t.Error("RFC 9207 not advertised")
	}
	algs := d["id_token_signing_alg_values_supported"]
	if !strings.Contains(strings.Join(toStrings(algs), ","), "RS256") {
		t.Errorf("RS256 not offered: %v", algs)
	}
	// CORS only where scripts need it: not on authorize or end_session.
	res = get("/authorize", map[string]string{"Origin": "https://evil.example"})
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS on /authorize")
	}
	// The token endpoint is never cached, even for errors.
	code, _ := s.PostForm(t, "/oauth/token", pt.WebClient, pt.WebSecret, url.Values{"grant_type": {"authorization_code"}, "code": {"bogus"}})
	if code != http.StatusBadRequest {
		t.Errorf("bogus code: %d", code)
	}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(pt.ServiceClient, pt.ServiceSecret)
	res, err := s.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("token response %d Cache-Control %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
	// Health and readiness (metrics are not on the public listener).
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
		res := get(path, nil)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %.200s", path, res.StatusCode, body)
		}
	}
	// Malformed input gets a friendly answer, never a 500.
	for _, path := range []string{"/login?authRequestID=%ff%fe", "/login?authRequestID=" + strings.Repeat("A", 5000), "/consent?authRequestID=nope", "/authorize?client_id=%00", "/logout?to=%zz"} {
		res := get(path, nil)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode >= 500 || strings.Contains(string(body), "goroutine") {
			t.Errorf("%s: %d %.200s", path, res.StatusCode, body)
		}
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func equalJSON(got any, want []string) bool {
	g, ok := got.([]any)
	if !ok || len(g) != len(want) {
		return false
	}
	for i := range g {
		if g[i] != want[i] {
			return false
		}
	}
	return true
}

// recorder is an AfterSignIn hook and a tiny "plugin" route that calls the
// SignIn contract the way the SSPR plugin does.
type recorder struct{ calls []string }

func (r *recorder) AfterSignIn(c echo.Context, userID, authRequestID string) (string, error) {
	r.calls = append(r.calls, userID+"|"+authRequestID)
	return "", nil
}

func TestSignInContractForThePlugin(t *testing.T) {
	hook := &recorder{}
	mount := func(s *pt.Server, e *echo.Echo) {
		// /test/complete?authRequestID=...: what the plugin does after a
		// successful recovery.
		e.GET("/test/complete", func(c echo.Context) error {
			to, err := s.Provider.Complete(c, s.User.ID, []string{"otp", "mfa"}, c.QueryParam("authRequestID"))
			if err != nil {
				return err
			}
			if to == "" {
				return c.String(http.StatusOK, "signed in; return to the application")
			}
			return c.Redirect(http.StatusSeeOther, to)
		})
		e.GET("/test/current", func(c echo.Context) error {
			a, ok := s.Provider.Current(c)
			if !ok {
				return c.String(http.StatusOK, "none")
			}
			return c.String(http.StatusOK, a.UserID+" "+a.SessionID)
		})
	}
	pt.Each(t, pt.Config{Mount: mount, Provider: func(o *provider.Options) { o.AfterSignIn = hook }}, func(t *testing.T, s *pt.Server) {
		ctx := t.Context()
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)

		t.Run("same-browser-continues-the-request", func(t *testing.T) {
			b := s.NewBrowser(t)
			a := rp.Start()
			page := b.Get(a.URL).Page
			id := page.Doc.Find(`input[name="authRequestID"]`).AttrOr("value", "")
			before := b.Get(s.URL + "/test/current").Page.Body
			res := b.Get(s.URL + "/test/complete?authRequestID=" + url.QueryEscape(id))
			q := rp.Callback(a, res)
			tok, err := rp.Exchange(ctx, a, q.Get("code"))
			if err != nil {
				t.Fatal(err)
			}
			c := claimsOf(t, tok)
			if c.Sub != s.User.ID || strings.Join(c.AMR, ",") != "otp,mfa" {
				t.Fatalf("claims after recovery %+v (amr must name the proofs, never pwd)", c)
			}
			after := b.Get(s.URL + "/test/current").Page.Body
			if before != "none" || !strings.HasPrefix(after, s.User.ID+" ") {
				t.Fatalf("current before %q after %q", before, after)
			}
		})
		t.Run("other-browser-gets-no-code", func(t *testing.T) {
			b := s.NewBrowser(t)
			a := rp.Start()
			page := b.Get(a.URL).Page
			id := page.Doc.Find(`input[name="authRequestID"]`).AttrOr("value", "")
			other := s.NewBrowser(t)
			res := other.Get(s.URL + "/test/complete?authRequestID=" + url.QueryEscape(id))
			if res.Redirect != nil || !strings.Contains(res.Page.Body, "return to the application") {
				t.Fatalf("another browser continued the request: %s", res)
			}
			// The request is still pending for the browser that started it.
			q := rp.Callback(a, b.SignIn(page, pt.Username, pt.Password))
			if q.Get("code") == "" {
				t.Fatal("request no longer pending")
			}
		})
		t.Run("session-fixation", func(t *testing.T) {
			b := s.NewBrowser(t)
			b.Get(s.URL + "/test/complete")
			first := b.Get(s.URL + "/test/current").Page.Body
			b.Get(s.URL + "/test/complete")
			second := b.Get(s.URL + "/test/current").Page.Body
			if first == second {
				t.Fatal("signing in again kept the session id")
			}
		})
		t.Run("after-sign-in-hook", func(t *testing.T) {
			n := len(hook.calls)
			b := s.NewBrowser(t)
			a := rp.Start()
			page := b.Get(a.URL).Page
			id := page.Doc.Find(`input[name="authRequestID"]`).AttrOr("value", "")
			rp.Callback(a, b.SignIn(page, pt.Username, pt.Password))
			if len(hook.calls) != n+1 || hook.calls[n] != s.User.ID+"|"+id {
				t.Fatalf("hook calls %v", hook.calls)
			}
		})
		t.Run("login-url", func(t *testing.T) {
			u := s.Provider.LoginURL("abc", "alice")
			if u != s.URL+"/login?authRequestID=abc&username=alice" {
				t.Fatalf("LoginURL = %s", u)
			}
		})
	})
}

// Bad input anywhere gets a 4xx (OAuth JSON or a friendly page), never a
// 500, a panic or internal text.
func TestMalformedRequestsNeverFail500(t *testing.T) {
	s := pt.Start(t, dbURL(t), pt.Config{})
	tests := []struct {
		method, path, body, auth, bearer string
	}{
		{"POST", "/oauth/token", "grant_type=authorization_code&code=%zz", pt.WebClient, ""},
		{"POST", "/oauth/token", "grant_type=refresh_token&refresh_token=" + strings.Repeat("x", 3000), pt.WebClient, ""},
		{"POST", "/oauth/token", "\x00\x01garbage", "", ""},
		{"POST", "/oauth/token", "grant_type=client_credentials&scope=" + strings.Repeat("a ", 500), pt.ServiceClient, ""},
		{"GET", "/userinfo", "", "", "not-a-token"},
		{"GET", "/userinfo", "", "", strings.Repeat("e", 400)},
		{"POST", "/oauth/introspect", "token=abc", "", ""},
		{"POST", "/oauth/introspect", "token=abc", pt.WebClient, ""},
		{"POST", "/revoke", "token=abc&token_type_hint=refresh_token", pt.WebClient, ""},
		{"GET", "/end_session?id_token_hint=eyJhbGciOiJub25lIn0.e30.", "", "", ""},
		{"GET", "/end_session?client_id=nobody&post_logout_redirect_uri=https://evil.example", "", "", ""},
		{"GET", "/authorize/callback?id=nope", "", "", ""},
		{"GET", "/authorize?client_id=webapp&response_type=code&redirect_uri=https://app.example/callback&scope=openid&code_challenge=abc&code_challenge_method=S256&max_age=-5", "", "", ""},
		{"GET", "/authorize?client_id=webapp&response_type=code&redirect_uri=https://app.example/callback&scope=", "", "", ""},
		{"POST", "/login", "authRequestID=nope&username=a&password=b", "", ""},
		{"POST", "/consent", "authRequestID=nope&decision=allow", "", ""},
		{"GET", "/logout?to=https://evil.example&sig=%%%", "", "", ""},
		{"GET", "/static/../../etc/passwd", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.method+tt.path, "/", "_")[:min(40, len(tt.method+tt.path))], func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, s.URL+tt.path, strings.NewReader(tt.body))
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			switch {
			case tt.auth == pt.WebClient:
				req.SetBasicAuth(pt.WebClient, pt.WebSecret)
			case tt.auth == pt.ServiceClient:
				req.SetBasicAuth(pt.ServiceClient, pt.ServiceSecret)
			}
			if tt.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+tt.bearer)
			}
			res, err := s.HTTP.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode >= 500 || strings.Contains(string(body), "goroutine") || strings.Contains(string(body), ".go:") {
				t.Fatalf("%d %.300s", res.StatusCode, body)
			}
		})
	}
}

// FuzzAuthorizeAndLogin sends arbitrary query strings to the browser-facing
// endpoints: whatever arrives, the answer is a redirect, a page or an
// OAuth error, never a 500.
func FuzzAuthorizeAndLogin(f *testing.F) {
	for _, seed := range []string{
		"client_id=webapp&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s&nonce=n",
		"client_id=webapp&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback&scope=openid&prompt=none&max_age=0",
		"client_id=spa&response_type=code&redirect_uri=https%3A%2F%2Fspa.example%2Fcallback&scope=openid%20offline_access&code_challenge=x&code_challenge_method=plain",
		"client_id=webapp&response_type=code&request=eyJhbGciOiJub25lIn0.e30.",
		"authRequestID=%00&username=%ff",
		"client_id=&&&=&%zz",
	} {
		f.Add(seed)
	}
	s := pt.Start(f, dbtest.URL(f, dbtest.SQLite), pt.Config{})
	f.Fuzz(func(t *testing.T, query string) {
		for _, path := range []string{"/authorize", "/login", "/end_session", "/consent"} {
			req, err := http.NewRequest(http.MethodGet, s.URL+path+"?"+query, nil)
			if err != nil {
				continue // not a URL a client could send
			}
			rec := httptest.NewRecorder()
			s.Echo.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s?%q: %d %.300s", path, query, rec.Code, rec.Body)
			}
		}
	})
}

func TestPanicIsAGenericPage(t *testing.T) {
	s := pt.Start(t, dbURL(t), pt.Config{Mount: func(_ *pt.Server, e *echo.Echo) {
		e.GET("/test/panic", func(echo.Context) error { panic("secret detail /home/x/y.go:12") })
	}})
	res, err := s.HTTP.Client().Get(s.URL + "/test/panic")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusInternalServerError || strings.Contains(string(body), "secret detail") ||
		!strings.Contains(string(body), "Something went wrong") {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
}

// A sign-in no application asked for returns to next when it names a page
// of this site, and to "/" otherwise: the sign-in page is no open
// redirect. A wrong password keeps next for the second try.
func TestSignInReturnsToNext(t *testing.T) {
	s := pt.Start(t, dbURL(t), pt.Config{})
	tests := []struct{ next, want string }{
		{"/.well-known/openid-configuration", "/.well-known/openid-configuration"},
		{"/.well-known/openid-configuration?x=1", "/.well-known/openid-configuration"},
		{"", "/"},
		{"//evil.example/x", "/"},
		{"/\\evil.example", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"/\r\nSet-Cookie: x=1", "/"},
		{"logout", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.next, func(t *testing.T) {
			b := s.NewBrowser(t)
			page := b.Get(s.URL + "/login?next=" + url.QueryEscape(tt.next)).Page
			wrong := b.SignIn(page, pt.Username, "not the password")
			if wrong.Page == nil || wrong.Page.Status != http.StatusUnauthorized {
				t.Fatalf("wrong password: %s", wrong)
			}
			res := b.SignIn(wrong.Page, pt.Username, pt.Password)
			if res.Page == nil || !strings.HasPrefix(res.Page.URL.String(), s.URL+"/") || res.Page.URL.Path != tt.want {
				t.Fatalf("next=%q: %s, want %s", tt.next, res, tt.want)
			}
			// Already signed in: the sign-in page goes straight there.
			again := b.Get(s.URL + "/login?next=" + url.QueryEscape(tt.next))
			if again.Page == nil || again.Page.URL.Path != tt.want {
				t.Fatalf("signed in, next=%q: %s", tt.next, again)
			}
		})
	}
}
