package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/secret"
)

// logLines parses the JSON lines of a server's output that have msg.
func logLines(t *testing.T, out, msg string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == msg {
			lines = append(lines, m)
		}
	}
	return lines
}

// TestRequestIDHeader: every response carries X-Request-Id; a client's own
// id is replaced unless it comes through a trusted proxy, and the access
// log line of the request names the id the response carries.
func TestRequestIDHeader(t *testing.T) {
	tests := []struct {
		name     string
		proxies  string
		sent     string
		wantKept bool
	}{
		{"generated-when-none-is-sent", "", "", false},
		{"forged-by-an-untrusted-client-is-replaced", "", "forged-id-123", false},
		{"from-a-trusted-proxy-is-kept", "127.0.0.1/32", "proxy-id-456", true},
		{"unsafe-characters-from-a-trusted-proxy-are-replaced", "127.0.0.1/32", `a"b c`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearLatchkeyEnv(t)
			args := []string{"--database", "sqlite://" + filepath.Join(t.TempDir(), "lk.db"), "--secret", secret.Generate(),
				"--argon2-memory", "7168", "--argon2-time", "5"}
			if tt.proxies != "" {
				args = append(args, "--trusted-proxies", tt.proxies)
			}
			srv := startServe(t, args...)
			req, _ := http.NewRequest(http.MethodGet, srv.base+"/healthz", nil)
			if tt.sent != "" {
				req.Header.Set("X-Request-Id", tt.sent)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Get("X-Request-Id")
			switch {
			case got == "":
				t.Fatal("no X-Request-Id in the response")
			case tt.wantKept && got != tt.sent:
				t.Fatalf("X-Request-Id %q, want the proxy's %q", got, tt.sent)
			case !tt.wantKept && (got == tt.sent || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got)):
				t.Fatalf("X-Request-Id %q, want a new generated id (sent %q)", got, tt.sent)
			}
			srv.stop()
			var found bool
			for _, l := range logLines(t, srv.stderr.String(), "request") {
				if l["path"] == "/healthz" && l["request_id"] == got {
					found = true
					if l["method"] != "GET" || l["status"] != float64(200) || l["ip"] != "127.0.0.1" {
						t.Errorf("access log line %v", l)
					}
				}
			}
			if !found {
				t.Fatalf("no access log line with request_id %q:\n%s", got, srv.stderr.String())
			}
		})
	}
}

// TestAccessLogOff: LATCHKEY_ACCESS_LOG=off writes no request lines, and
// the id is still echoed.
func TestAccessLogOff(t *testing.T) {
	clearLatchkeyEnv(t)
	t.Setenv("LATCHKEY_ACCESS_LOG", "off")
	srv := startServe(t, "--database", "sqlite://"+filepath.Join(t.TempDir(), "lk.db"), "--secret", secret.Generate(),
		"--argon2-memory", "7168", "--argon2-time", "5")
	resp, _ := get(t, http.DefaultClient, srv.base+"/healthz")
	if resp.Header.Get("X-Request-Id") == "" {
		t.Fatal("no X-Request-Id with the access log off")
	}
	srv.stop()
	if l := logLines(t, srv.stderr.String(), "request"); len(l) != 0 {
		t.Fatalf("access log off, yet %d request lines: %v", len(l), l)
	}
}

// TestAccessLogHoldsNoSecrets signs in through the demo application (code
// flow with PKCE, code exchange, ID token): no value of any query
// parameter the browser carried through the redirects (authorization
// code, state, nonce, the auth request id, the PKCE challenge) appears in
// the server's log, while every request still has its line.
func TestAccessLogHoldsNoSecrets(t *testing.T) {
	clearLatchkeyEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	srv := startServe(t, "--dev", "--log-format", "json", "--data-dir", dir, "--database", "sqlite://"+filepath.Join(dir, "latchkey.db"),
		"--argon2-memory", "7168", "--argon2-time", "5")
	m := devPasswordRE.FindStringSubmatch(srv.stderr.String())
	if m == nil {
		t.Fatalf("no demo password printed:\n%s", srv.stderr.String())
	}
	var mu sync.Mutex
	secrets := map[string]string{}
	collect := func(u *url.URL) {
		mu.Lock()
		defer mu.Unlock()
		for k, vs := range u.Query() {
			for _, v := range vs {
				if len(v) >= 8 && k != "redirect_uri" && k != "scope" && k != "response_type" && k != "client_id" && k != "code_challenge_method" {
					secrets[v] = k
				}
			}
		}
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		collect(r.URL)
		return nil
	}}
	resp, body := get(t, browser, srv.base+"/demo/login")
	for step := 0; resp.Request.URL.Path != "/demo"; step++ {
		if step > 3 {
			t.Fatalf("sign-in did not reach /demo; at %s (%d):\n%s", resp.Request.URL, resp.StatusCode, body)
		}
		target, vals := signInForm(t, resp, body, devUsername, m[1])
		var err error
		collect(target)
		if resp, err = browser.PostForm(target.String(), vals); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
	}
	if !strings.Contains(body, "ID token claims") {
		t.Fatalf("not signed in:\n%s", body)
	}
	srv.stop()
	log := srv.stderr.String()
	kinds := map[string]bool{}
	for v, k := range secrets {
		kinds[k] = true
		if strings.Contains(log, v) {
			t.Errorf("the %s value %q appears in the log:\n%s", k, v, lineWith(log, v))
		}
	}
	for _, k := range []string{"code", "state"} {
		if !kinds[k] {
			t.Errorf("the flow carried no %s parameter; the test did not see the redirects (saw %v)", k, kinds)
		}
	}
	paths := map[string]bool{}
	for _, l := range logLines(t, log, "request") {
		p, _ := l["path"].(string)
		paths[p] = true
		if strings.Contains(p, "?") {
			t.Errorf("a logged path has a query: %v", l)
		}
		if id, _ := l["request_id"].(string); id == "" {
			t.Errorf("access log line without request_id: %v", l)
		}
	}
	for _, p := range []string{"/authorize", "/login", "/authorize/callback", "/oauth/token", "/demo/callback"} {
		if !paths[p] {
			t.Errorf("no access log line for %s (logged %v)", p, paths)
		}
	}
}

// TestMetricsBuildInfoAndPool scrapes the metrics listener: the build
// gauge, the database pool and the audit event counter after a failed
// sign-in.
func TestMetricsBuildInfoAndPool(t *testing.T) {
	clearLatchkeyEnv(t)
	srv := startServe(t, "--database", "sqlite://"+filepath.Join(t.TempDir(), "lk.db"), "--secret", secret.Generate(),
		"--argon2-memory", "7168", "--argon2-time", "5")
	failSignIn(t, srv.base)
	_, body := get(t, http.DefaultClient, srv.metrics+"/metrics")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^latchkey_build_info\{go_version="go[^"]+",version="dev"\} 1$`),
		regexp.MustCompile(`(?m)^go_sql_open_connections\{db_name="latchkey"\} [0-9]+$`),
		regexp.MustCompile(`(?m)^go_sql_in_use_connections\{db_name="latchkey"\} [0-9]+$`),
		regexp.MustCompile(`(?m)^go_sql_idle_connections\{db_name="latchkey"\} [0-9]+$`),
		regexp.MustCompile(`(?m)^go_sql_wait_count_total\{db_name="latchkey"\} [0-9]+$`),
		regexp.MustCompile(`(?m)^go_sql_wait_duration_seconds_total\{db_name="latchkey"\} [0-9.e+-]+$`),
		regexp.MustCompile(`(?m)^latchkey_audit_events_total\{outcome="fail",type="signin.failed"\} 1$`),
	} {
		if !want.MatchString(body) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}
}

// failSignIn posts one wrong password on the sign-in page.
func failSignIn(t *testing.T, base string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, body := get(t, b, base+"/login")
	target, vals := signInForm(t, resp, body, "mallory", "wrong password")
	resp, err := b.PostForm(target.String(), vals)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// TestTracing: with LATCHKEY_OTEL_ENDPOINT a loopback OTLP/HTTP receiver
// gets the spans of a request (flushed at shutdown at the latest); without
// it nothing is sent.
func TestTracing(t *testing.T) {
	tests := []struct {
		name string
		on   bool
	}{
		{"on-sends-spans", true},
		{"off-sends-nothing", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearLatchkeyEnv(t)
			for _, k := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
				t.Setenv(k, "")
			}
			var mu sync.Mutex
			var posts []string
			var bytes int
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				posts = append(posts, r.Method+" "+r.URL.Path)
				bytes += len(b)
				mu.Unlock()
				w.Header().Set("Content-Type", "application/x-protobuf")
				w.WriteHeader(http.StatusOK)
			}))
			defer rcv.Close()
			args := []string{"--database", "sqlite://" + filepath.Join(t.TempDir(), "lk.db"), "--secret", secret.Generate(),
				"--argon2-memory", "7168", "--argon2-time", "5"}
			if tt.on {
				args = append(args, "--otel-endpoint", rcv.URL)
			} else {
				// Even with the standard variable set, tracing stays off
				// unless Latchkey's setting turns it on.
				t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rcv.URL)
			}
			srv := startServe(t, args...)
			get(t, http.DefaultClient, srv.base+"/.well-known/openid-configuration")
			if code := srv.stop(); code != 0 {
				t.Fatalf("stop: exit %d\n%s", code, srv.stderr.String())
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case tt.on && (len(posts) == 0 || posts[0] != "POST /v1/traces" || bytes == 0):
				t.Fatalf("receiver got %v (%d bytes), want spans at POST /v1/traces\n%s", posts, bytes, srv.stderr.String())
			case !tt.on && len(posts) != 0:
				t.Fatalf("tracing off, yet the receiver got %v", posts)
			}
		})
	}
}
