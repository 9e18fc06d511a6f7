package web_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui"
)

func TestSecurityHeaders(t *testing.T) {
	for _, secure := range []bool{true, false} {
		e := echo.New()
		e.GET("/", func(c echo.Context) error { return c.String(200, "ok") }, web.SecurityHeaders(secure), web.NoStore())
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		h := rec.Header()
		if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("secure=%v: CSP %q lacks frame-ancestors 'none'", secure, h.Get("Content-Security-Policy"))
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
			if h.Get(k) != v {
				t.Errorf("secure=%v: %s = %q, want %q", secure, k, h.Get(k), v)
			}
		}
		hsts := h.Get("Strict-Transport-Security")
		if secure {
			var age int
			if _, err := fmt.Sscanf(hsts, "max-age=%d", &age); err != nil || age < 365*24*3600 {
				t.Errorf("HSTS %q is shorter than a year", hsts)
			}
		} else if hsts != "" {
			t.Errorf("HSTS sent over http: %q", hsts)
		}
	}
}

func TestCookie(t *testing.T) {
	tests := []struct {
		name   string
		secure bool
		maxAge time.Duration
		want   string
	}{
		{"https-session", true, time.Hour, "__Host-lk_session"},
		{"http-dev", false, time.Hour, "lk_session"},
		{"delete", true, -1, "__Host-lk_session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := web.Cookie("lk_session", "v", tt.maxAge, tt.secure)
			if c.Name != tt.want || c.Path != "/" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tt.secure || c.Domain != "" {
				t.Fatalf("cookie %+v", c)
			}
			if tt.maxAge < 0 && (c.MaxAge >= 0 || c.Value != "") {
				t.Fatalf("delete cookie %+v", c)
			}
		})
	}
}

// csrfServer has a form page and a POST handler behind CSRF.
func csrfServer(secure bool) *echo.Echo {
	e := echo.New()
	e.HTTPErrorHandler = web.ErrorHandler(mustUI(), nil)
	e.GET("/form", func(c echo.Context) error { return c.String(200, web.CSRFToken(c)) }, web.CSRF(secure))
	e.POST("/form", func(c echo.Context) error { return c.String(200, "done") }, web.CSRF(secure))
	return e
}

func mustUI() *ui.Renderer {
	r, err := ui.New()
	if err != nil {
		panic(err)
	}
	return r
}

func TestCSRF(t *testing.T) {
	for _, secure := range []bool{true, false} {
		e := csrfServer(secure)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/form", nil))
		token := rec.Body.String()
		cookies := rec.Result().Cookies()
		if len(cookies) != 1 || len(token) < 32 {
			t.Fatalf("GET set %d cookies, token %q", len(cookies), token)
		}
		ck := cookies[0]
		wantName := "csrf"
		if secure {
			wantName = "__Host-csrf"
		}
		if ck.Name != wantName || !ck.HttpOnly || ck.Secure != secure || ck.Path != "/" || ck.SameSite != http.SameSiteLaxMode {
			t.Fatalf("csrf cookie %+v", ck)
		}
		tests := []struct {
			name      string
			field     string
			cookie    bool
			fetchSite string
			want      int
		}{
			{"valid", token, true, "", 200},
			{"valid-same-origin", token, true, "same-origin", 200},
			{"missing-field", "", true, "", 403},
			{"wrong-field", token + "x", true, "", 403},
			{"no-cookie", token, false, "", 403},
			{"same-origin-header-without-token", "", true, "same-origin", 403},
			{"cross-site", token, true, "cross-site", 403},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				form := url.Values{}
				if tt.field != "" {
					form.Set("csrf", tt.field)
				}
				req := httptest.NewRequest(http.MethodPost, "/form", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if tt.cookie {
					req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
				}
				if tt.fetchSite != "" {
					req.Header.Set("Sec-Fetch-Site", tt.fetchSite)
				}
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				if rec.Code != tt.want {
					t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
				}
				if tt.want == 403 && !strings.Contains(rec.Body.String(), "expired") {
					t.Fatalf("refusal is not the friendly page: %s", rec.Body)
				}
			})
		}
	}
}

func TestIPExtractor(t *testing.T) {
	tests := []struct {
		name    string
		proxies []string
		remote  string
		xff     string
		want    string
	}{
		{"no-proxies-ignores-xff", nil, "203.0.113.9:4000", "198.51.100.1", "203.0.113.9"},
		{"private-socket-not-trusted-by-default", nil, "10.0.0.5:4000", "198.51.100.1", "10.0.0.5"},
		{"trusted-proxy", []string{"10.0.0.0/8"}, "10.0.0.5:4000", "198.51.100.1", "198.51.100.1"},
		{"spoofed-leftmost-ignored", []string{"10.0.0.0/8"}, "10.0.0.5:4000", "1.2.3.4, 198.51.100.1", "198.51.100.1"},
		{"untrusted-socket", []string{"10.0.0.0/8"}, "203.0.113.9:4000", "198.51.100.1", "203.0.113.9"},
		{"loopback-not-implicitly-trusted", []string{"10.0.0.0/8"}, "127.0.0.1:4000", "198.51.100.1", "127.0.0.1"},
		{"garbage-falls-back-to-socket", []string{"10.0.0.0/8"}, "10.0.0.5:4000", "not-an-ip", "10.0.0.5"},
		{"single-ip-proxy", []string{"192.0.2.7"}, "192.0.2.7:4000", "198.51.100.1", "198.51.100.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := web.IPExtractor(tt.proxies)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			r.Header.Set("X-Forwarded-For", tt.xff)
			if got := x(r); got != tt.want {
				t.Fatalf("client IP %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := web.IPExtractor([]string{"10.0.0.0/33"}); err == nil {
		t.Fatal("bad CIDR accepted")
	}
	if _, err := web.IPExtractor([]string{"proxy.example"}); err == nil {
		t.Fatal("host name accepted as proxy")
	}
}

func TestAllowHosts(t *testing.T) {
	e := echo.New()
	e.HTTPErrorHandler = web.ErrorHandler(mustUI(), nil)
	e.Use(web.AllowHosts("id.example.com"))
	e.GET("/login", func(c echo.Context) error { return c.String(200, "ok") })
	e.GET("/healthz", func(c echo.Context) error { return c.String(200, "ok") })
	tests := []struct {
		host, path string
		want       int
	}{
		{"id.example.com", "/login", 200},
		{"ID.EXAMPLE.COM", "/login", 200},
		{"evil.example", "/login", 421},
		{"id.example.com.evil.example", "/login", 421},
		{"evil.example", "/healthz", 200},
	}
	for _, tt := range tests {
		t.Run(tt.host+tt.path, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.path, nil)
			r.Host = tt.host
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, r)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d", rec.Code, tt.want)
			}
		})
	}
}

func TestErrorHandlerNeverLeaksInternals(t *testing.T) {
	e := echo.New()
	e.HTTPErrorHandler = web.ErrorHandler(mustUI(), nil)
	secret := "dial tcp 10.1.2.3:3306: password=hunter2"
	e.GET("/boom", func(c echo.Context) error { return errors.New(secret) })
	e.GET("/api/boom", func(c echo.Context) error { return errors.New(secret) })
	e.GET("/friendly", func(c echo.Context) error {
		return &web.PageError{Status: 400, Title: "Link expired", Message: "Start again.", Err: errors.New(secret)}
	})
	tests := []struct {
		path, accept string
		code         int
		json         bool
		want         string
	}{
		{"/boom", "text/html", 500, false, "Something went wrong"},
		{"/api/boom", "", 500, true, "server_error"},
		{"/boom", "application/json", 500, true, "server_error"},
		{"/friendly", "", 400, false, "Link expired"},
		{"/nowhere", "", 404, false, "Page not found"},
	}
	for _, tt := range tests {
		t.Run(strings.Trim(tt.path, "/")+"-"+tt.accept, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.accept != "" {
				r.Header.Set("Accept", tt.accept)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, r)
			body := rec.Body.String()
			if rec.Code != tt.code || !strings.Contains(body, tt.want) {
				t.Fatalf("got %d %s", rec.Code, body)
			}
			if strings.Contains(body, "hunter2") || strings.Contains(body, "10.1.2.3") || strings.Contains(body, "goroutine") {
				t.Fatalf("internal detail leaked: %s", body)
			}
			if tt.json {
				var m map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m["error"] == "" {
					t.Fatalf("not an OAuth-shaped error: %s", body)
				}
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatal("error response cacheable")
			}
		})
	}
}

// The page policy is built, not fixed: with no extra sources it is CSP,
// and extra sources land in their directives only (frames stay
// forbidden unless a widget needs them).
func TestPolicyFor(t *testing.T) {
	if got := web.PolicyFor(web.Sources{}); got != web.CSP {
		t.Fatalf("PolicyFor(zero) = %q, want CSP %q", got, web.CSP)
	}
	got := web.PolicyFor(web.Sources{Script: []string{"https://s.example"}, Frame: []string{"https://f.example"}})
	for _, want := range []string{"script-src 'self' https://s.example;", "frame-src https://f.example;", "style-src 'self';", "frame-ancestors 'none'"} {
		if !strings.Contains(got, want) {
			t.Errorf("policy %q lacks %q", got, want)
		}
	}
	if strings.Contains(web.CSP, "frame-src") {
		t.Errorf("the default policy allows frames: %q", web.CSP)
	}
}
