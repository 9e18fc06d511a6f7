package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/admin"
	"github.com/latchkeyid/latchkey/plugin/console"
)

// `latchkey serve` mounts the admin API and its document on the issuer.
func TestServeMountsAdminAPI(t *testing.T) {
	clearLatchkeyEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	srv := startServe(t, "--dev", "--data-dir", dir, "--database", "sqlite://"+filepath.Join(dir, "latchkey.db"),
		"--argon2-memory", "7168", "--argon2-time", "5")
	c := &http.Client{Timeout: 30 * time.Second}
	resp, body := get(t, c, srv.base+admin.OpenAPIPath)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"openapi":"3.1.0"`) {
		t.Fatalf("openapi document: %d %.200s", resp.StatusCode, body)
	}
	for _, path := range []string{admin.Prefix + "/apps", admin.Prefix + "/apps/latchkey-demo", admin.Prefix + "/nothing",
		admin.Prefix + "/policy", admin.Prefix + "/audit/export?format=csv", admin.Prefix + "/reports/funnel"} {
		resp, body = get(t, c, srv.base+path)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Content-Type") != admin.MIMEProblem ||
			!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("GET %s without a token: %d %v %s", path, resp.StatusCode, resp.Header, body)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, srv.base+admin.Prefix+"/apps", nil)
	req.Header.Set("Authorization", "Bearer forged.token.value")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("forged token: %d %v", res.StatusCode, res.Header)
	}
	// The console is registered at start: /admin sends the browser to
	// sign in through its client, asking for two fresh proofs.
	nc := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, _ = get(t, nc, srv.base+console.Path)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Path != "/authorize" || loc.Query().Get("client_id") != console.ClientID ||
		loc.Query().Get("redirect_uri") != console.RedirectURI(srv.base) {
		t.Fatalf("GET /admin: %d %s", resp.StatusCode, loc)
	}
	resp, body = get(t, nc, loc.String())
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "/login") {
		t.Fatalf("the console's authorization request: %d %s %.300s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if code := srv.stop(); code != 0 {
		t.Fatalf("stop: exit %d\n%s", code, srv.stderr.String())
	}
}
