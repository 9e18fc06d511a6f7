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
