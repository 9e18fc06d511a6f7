package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/latchkeyid/latchkey/provider/secret"
)

// Checklist 60 through the whole wiring: LATCHKEY_TRUSTED_PROXIES reaches
// the provider, so X-Forwarded-For counts only from a configured proxy.
// The audit log records the client IP of a failed sign-in.
func TestTrustedProxiesReachTheServer(t *testing.T) {
	tests := []struct {
		name    string
		proxies string
		wantIP  string
	}{
		{"loopback-is-a-trusted-proxy", "127.0.0.1/32", "203.0.113.9"},
		{"no-trusted-proxy", "", "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearLatchkeyEnv(t)
			dbURL := "sqlite://" + filepath.Join(t.TempDir(), "lk.db")
			common := []string{"--database", dbURL, "--secret", secret.Generate(), "--argon2-memory", "7168", "--argon2-time", "5"}
			args := append([]string{}, common...)
			if tt.proxies != "" {
				args = append(args, "--trusted-proxies", tt.proxies)
			}
			srv := startServe(t, args...)

			jar, _ := cookiejar.New(nil)
			b := &http.Client{Jar: jar, Timeout: 30 * time.Second}
			resp, body := get(t, b, srv.base+"/login")
			doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			form := doc.Find("form").FilterFunction(func(_ int, s *goquery.Selection) bool {
				return s.Find(`input[name="password"]`).Length() > 0
			}).First()
			if form.Length() == 0 {
				t.Fatalf("no sign-in form (%d):\n%s", resp.StatusCode, body)
			}
			vals := url.Values{}
			form.Find("input[name]").Each(func(_ int, s *goquery.Selection) {
				n, _ := s.Attr("name")
				v, _ := s.Attr("value")
				vals.Set(n, v)
			})
			vals.Set("username", "mallory")
			vals.Set("password", "wrong password")
			action, _ := form.Attr("action")
			target, _ := resp.Request.URL.Parse(action)
			req, _ := http.NewRequest(http.MethodPost, target.String(), strings.NewReader(vals.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			resp, err = b.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()

			srv.stop()
			c := newCLIWith(t, dbURL, common[3])
			out := c.must("", "audit", "--type", "signin.failed")
			line := lineWith(out, time.Now().UTC().Format("2006-01-02"))
			if f := strings.Fields(line); len(f) < 5 || f[4] != tt.wantIP {
				t.Fatalf("audit IP: want %s in\n%s", tt.wantIP, out)
			}
		})
	}
}

// Password spraying from one address: after LATCHKEY_LOGIN_LIMIT_IP failed
// sign-ins the sign-in page refuses that address (429, the password not
// even checked), whichever accounts it tries, while other addresses sign
// in as usual; the refusal is audited.
func TestLoginLimitPerIP(t *testing.T) {
	clearLatchkeyEnv(t)
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "lk.db")
	key := secret.Generate()
	common := []string{"--database", dbURL, "--secret", key, "--argon2-memory", "7168", "--argon2-time", "5"}
	c := newCLIWith(t, dbURL, key)
	c.must(alicePW+"\n", "user", "create", "--username", "alice", "--email", "alice@example.com", "--password-stdin")
	srv := startServe(t, append([]string{"--trusted-proxies", "127.0.0.1/32", "--login-limit-ip", "3/10m"}, common...)...)

	signIn := func(from, username, password string) (int, string) {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		b := &http.Client{Jar: jar, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, body := get(t, b, srv.base+"/login")
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		csrf, _ := doc.Find(`input[name="csrf"]`).Attr("value")
		vals := url.Values{"csrf": {csrf}, "username": {username}, "password": {password}}
		req, _ := http.NewRequest(http.MethodPost, resp.Request.URL.String(), strings.NewReader(vals.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", from)
		resp, err = b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		page, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(page)
	}
	const sprayer, colleague = "203.0.113.7", "203.0.113.8"
	for _, name := range []string{"alice", "bob", "carol"} {
		if code, _ := signIn(sprayer, name, "Winter2026!"); code != http.StatusUnauthorized {
			t.Fatalf("failed sign-in as %s: %d, want 401", name, code)
		}
	}
	code, page := signIn(sprayer, "alice", alicePW)
	if code != http.StatusTooManyRequests || !strings.Contains(page, "Too many failed sign-ins") {
		t.Fatalf("4th try from the same address: %d, want 429 and the message:\n%s", code, page)
	}
	if code, _ := signIn(colleague, "alice", alicePW); code != http.StatusSeeOther {
		t.Fatalf("another address signing in: %d, want 303", code)
	}
	srv.stop()
	if out := c.must("", "audit", "--type", "signin.failed"); !strings.Contains(out, "ip_limited") || !strings.Contains(out, sprayer) {
		t.Fatalf("the refusal is not audited:\n%s", out)
	}
}
