package provider_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// scrape reads the metrics the way Prometheus does: over HTTP, from the
// handler cmd serves on its own listener.
func scrape(t *testing.T, s *pt.Server) string {
	t.Helper()
	srv := httptest.NewServer(s.Provider.MetricsHandler())
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d %.300s", res.StatusCode, body)
	}
	return string(body)
}

// TestMetricsAreNotPublic: the public listener has no /metrics; the
// metrics handler stands apart (cmd serves it on loopback).
func TestMetricsAreNotPublic(t *testing.T) {
	s := pt.Start(t, dbURL(t), pt.Config{})
	b := s.NewBrowser(t)
	for _, path := range []string{"/metrics", "/metrics/", "/metrics?x=1"} {
		res := b.Do(http.MethodGet, s.URL+path, nil)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound || strings.Contains(string(body), "latchkey_") {
			t.Errorf("GET %s on the public listener: %d %.200s", path, res.StatusCode, body)
		}
	}
	// Foreign Host headers no longer get a pass for /metrics either.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/metrics", nil)
	req.Host = "attacker.example"
	res, err := s.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("GET /metrics with a foreign Host: %d", res.StatusCode)
	}
	if m := scrape(t, s); !strings.Contains(m, "latchkey_http_requests_total") {
		t.Fatalf("metrics handler: %.500s", m)
	}
}

// TestSignInMetricsDoNotRevealRightPasswords: a disabled account's right
// password and a wrong password move the same counter, and no series says
// "disabled".
func TestSignInMetricsDoNotRevealRightPasswords(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		if err := s.Users.SetDisabled(t.Context(), s.User.ID, true); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name, password string
			want           string
		}{
			{"right-password-of-disabled-account", pt.Password, `latchkey_signins_total{method="pwd",outcome="bad_credentials"} 1`},
			{"wrong-password-of-disabled-account", "not the password at all", `latchkey_signins_total{method="pwd",outcome="bad_credentials"} 2`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				b := s.NewBrowser(t)
				res := b.SignIn(b.Get(s.URL+"/login").Page, pt.Username, tt.password)
				if res.Page == nil || res.Page.Status != http.StatusUnauthorized {
					t.Fatalf("sign-in: %s", res)
				}
				m := scrape(t, s)
				if !strings.Contains(m, tt.want) {
					t.Errorf("want %s in\n%s", tt.want, grepLines(m, "latchkey_signins_total"))
				}
				if strings.Contains(m, `outcome="disabled"`) || strings.Contains(m, `outcome="wrong_account"`) {
					t.Errorf("an outcome reveals a right password:\n%s", grepLines(m, "latchkey_signins_total"))
				}
			})
		}
	})
}

// TestRequestMetricsCountTheStatusSent: an error a handler returns is
// counted with the status the client got (a CSRF refusal is a 403, an
// unknown page a 404), not as a 500.
func TestRequestMetricsCountTheStatusSent(t *testing.T) {
	s := pt.Start(t, dbURL(t), pt.Config{})
	b := s.NewBrowser(t)
	tests := []struct {
		name   string
		method string
		path   string
		form   url.Values
		status int
		want   string
	}{
		{"csrf-refusal-is-403", http.MethodPost, "/login", url.Values{"username": {"x"}, "password": {"y"}}, http.StatusForbidden,
			`latchkey_http_requests_total{code="403",method="POST",route="/login"} 1`},
		{"unknown-page-is-404", http.MethodGet, "/no-such-page", nil, http.StatusNotFound,
			`latchkey_http_requests_total{code="404",method="GET",route="other"} 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := b.Do(tt.method, s.URL+tt.path, tt.form)
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Fatalf("%s %s: %d, want %d", tt.method, tt.path, res.StatusCode, tt.status)
			}
			m := scrape(t, s)
			if !strings.Contains(m, tt.want) {
				t.Errorf("want %s in\n%s", tt.want, grepLines(m, "latchkey_http_requests_total"))
			}
			if strings.Contains(m, `code="500"`) {
				t.Errorf("a 500 was counted:\n%s", grepLines(m, "latchkey_http_requests_total"))
			}
		})
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
