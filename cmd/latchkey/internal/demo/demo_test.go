package demo

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The happy path runs against the real provider in cmd/latchkey's
// TestServeDevLoop; these are the refusals, which need no provider.
func TestCallbackRefusals(t *testing.T) {
	d := New("http://127.0.0.1:1", nil) // nothing listens there
	h := d.Handler()
	d.pending["good-state"] = pending{nonce: "n", verifier: "v", expires: d.now().Add(pendingTTL)}
	tests := []struct {
		name   string
		query  string
		cookie string
		status int
		want   string
	}{
		{"no-state-cookie", "?code=c&state=good-state", "", http.StatusBadRequest, "not started in this browser"},
		{"state-mismatch", "?code=c&state=good-state", "other", http.StatusBadRequest, "not started in this browser"},
		{"unknown-state", "?code=c&state=forged", "forged", http.StatusBadRequest, "expired or was already used"},
		{"provider-error-escaped", "?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C/script%3E", "", http.StatusBadRequest, "&lt;script&gt;"},
		{"mix-up-issuer", "?code=c&state=good-state&iss=https://evil.example", "good-state", http.StatusBadRequest, "another issuer"},
		{"state-single-use", "?code=c&state=good-state", "good-state", http.StatusBadRequest, "expired or was already used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:1"+PathCallback+tt.query, nil)
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: stateCookie, Value: tt.cookie})
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tt.status || !strings.Contains(string(body), tt.want) {
				t.Fatalf("%d, want %d with %q:\n%s", rec.Code, tt.status, tt.want, body)
			}
			if strings.Contains(string(body), "<script>") {
				t.Fatal("unescaped provider text in the page")
			}
			if rec.Header().Get("Content-Security-Policy") == "" || rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("missing security headers: %v", rec.Header())
			}
		})
	}
}

func TestLoginWithoutProvider(t *testing.T) {
	d := New("http://127.0.0.1:1", nil)
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:1"+PathLogin, nil))
	if rec.Code != http.StatusBadGateway || len(d.pending) != 0 {
		t.Fatalf("login with the provider down: %d, %d pending", rec.Code, len(d.pending))
	}
}

func TestHomeSignedOut(t *testing.T) {
	d := New("https://id.example.com", nil)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "https://id.example.com"+PathHome, nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: "made-up"})
	d.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Sign in with Latchkey") {
		t.Fatalf("%d:\n%s", rec.Code, rec.Body.String())
	}
	if c := d.cookie(stateCookie, "x", pendingTTL); !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie under https: %+v", c)
	}
}

func TestOtherHostRedirectsToIssuer(t *testing.T) {
	d := New("http://localhost:8080", nil)
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+PathLogin, nil))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "http://localhost:8080/demo" {
		t.Fatalf("%d %s", rec.Code, rec.Header().Get("Location"))
	}
}
