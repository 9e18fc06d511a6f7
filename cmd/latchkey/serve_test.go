package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// running is a `latchkey serve` started in-process.
type running struct {
	base    string // http://127.0.0.1:PORT, also the issuer
	metrics string // http://127.0.0.1:PORT of the metrics listener
	addr    string // the address serve reported listening on
	stderr  *syncBuffer
	stop    func() int // what SIGTERM does; returns the exit code
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// startServe runs `latchkey serve` with args in-process on a free loopback
// port (the issuer is http://127.0.0.1:PORT) and waits until it listens.
func startServe(t *testing.T, args ...string) *running {
	t.Helper()
	base := "http://127.0.0.1:" + freePort(t)
	metrics := "127.0.0.1:" + freePort(t)
	r := startServeArgs(t, base, append([]string{"serve", "--listen", strings.TrimPrefix(base, "http://"), "--issuer", base,
		"--metrics-listen", metrics, "--shutdown-delay", "0"}, args...))
	r.metrics = "http://" + metrics
	return r
}

// startServeArgs runs the command line full in-process and waits until it
// listens; base is where the tests reach it.
func startServeArgs(t *testing.T, base string, full []string) *running {
	t.Helper()
	addrc := make(chan string, 1)
	listenHook = func(a string) { addrc <- a }
	t.Cleanup(func() { listenHook = nil })
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, full, strings.NewReader(""), io.Discard, stderr) }()
	var addr string
	select {
	case addr = <-addrc:
	case code := <-done:
		cancel()
		t.Fatalf("serve exited %d before listening:\n%s", code, stderr.String())
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("serve did not start:\n%s", stderr.String())
	}
	var once sync.Once
	code := -1
	r := &running{base: base, addr: addr, stderr: stderr, stop: func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("serve did not stop within 30s")
			}
		})
		return code
	}}
	t.Cleanup(func() { r.stop() })
	return r
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var devPasswordRE = regexp.MustCompile(`password:\s+(\S+)`)

// TestServeDevLoop is the newcomer's minute: serve --dev, open /demo, sign
// in as the demo user with the printed password, and see the verified ID
// token claims; then a graceful stop.
func TestServeDevLoop(t *testing.T) {
	clearLatchkeyEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	srv := startServe(t, "--dev", "--data-dir", dir, "--database", "sqlite://"+filepath.Join(dir, "latchkey.db"),
		"--argon2-memory", "7168", "--argon2-time", "5")
	m := devPasswordRE.FindStringSubmatch(srv.stderr.String())
	if m == nil {
		t.Fatalf("no demo password printed:\n%s", srv.stderr.String())
	}
	pw := m[1]

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	for _, path := range []string{"/healthz", "/readyz", "/.well-known/openid-configuration", "/keys", "/demo", "/recover", "/dev/outbox"} {
		if resp, body := get(t, browser, srv.base+path); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
	}
	// Sign in through the demo app: /demo/login -> /authorize -> /login,
	// then skip the prompt to register recovery methods.
	resp, body := get(t, browser, srv.base+"/demo/login")
	for step := 0; resp.Request.URL.Path != "/demo"; step++ {
		if step > 3 {
			t.Fatalf("sign-in did not reach /demo; at %s (%d):\n%s", resp.Request.URL, resp.StatusCode, body)
		}
		target, vals := signInForm(t, resp, body, devUsername, pw)
		var err error
		if resp, err = browser.PostForm(target.String(), vals); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
	}
	page := body
	if resp.Request.URL.Path != "/demo" || !strings.Contains(page, "ID token claims") {
		t.Fatalf("after sign-in at %s (%d):\n%s", resp.Request.URL, resp.StatusCode, page)
	}
	for _, want := range []string{`"iss": "` + srv.base + `"`, `"azp": "latchkey-demo"`, `"preferred_username": "demo"`, `"auth_time"`, `"pwd"`, "/security-info"} {
		if !strings.Contains(html.UnescapeString(page), want) {
			t.Errorf("demo page lacks %s:\n%s", want, page)
		}
	}
	// Checklist 65: the log holds no secret. The demo password is printed
	// once, in the start banner, by design; nothing else may repeat it, and
	// no token (JWTs start with eyJ, opaque tokens and codes with lk2.) or
	// the ID token's nonce appears.
	log := srv.stderr.String()
	if n := strings.Count(log, pw); n != 1 {
		t.Errorf("demo password appears %d times in the server output, want once (the banner)", n)
	}
	for _, token := range []string{"eyJ", "lk2."} {
		if strings.Contains(log, token) {
			t.Errorf("server output contains a token (%s...):\n%s", token, log)
		}
	}
	if strings.Contains(srv.stderr.String(), "panic") {
		t.Fatalf("server log mentions a panic:\n%s", srv.stderr.String())
	}
	if code := srv.stop(); code != 0 {
		t.Fatalf("graceful stop: exit %d\n%s", code, srv.stderr.String())
	}
	if !strings.Contains(srv.stderr.String(), "stopped") {
		t.Fatalf("no clean shutdown logged:\n%s", srv.stderr.String())
	}
	// A second start on another port reuses the data (secret, database) and
	// re-registers the demo app for the new issuer.
	srv2 := startServe(t, "--dev", "--data-dir", dir, "--database", "sqlite://"+filepath.Join(dir, "latchkey.db"),
		"--argon2-memory", "7168", "--argon2-time", "5")
	jar2, _ := cookiejar.New(nil)
	resp, body = get(t, &http.Client{Jar: jar2, Timeout: 30 * time.Second}, srv2.base+"/demo/login")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="password"`) {
		t.Fatalf("demo after restart on another port: %d at %s:\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	if srv2.stop() != 0 {
		t.Fatal("second stop failed")
	}
}

// Outside dev mode serve refuses to start with an unsafe configuration,
// naming every problem at once (checklist 66).
func TestServeRefusesUnsafeConfig(t *testing.T) {
	clearLatchkeyEnv(t)
	url := dbtest.URL(t, dbtest.SQLite)
	checkUsageErrors(t, []string{"serve"}, []usageCase{
		{"no-secret-http-issuer-captcha-off", []string{"--database", url, "--issuer", "http://id.example.com", "--captcha", "off"},
			[]string{"LATCHKEY_SECRET", "LATCHKEY_ISSUER", "LATCHKEY_CAPTCHA"}},
		{"example-secret", []string{"--database", url, "--issuer", "https://id.example.com",
			"--secret", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}, []string{"LATCHKEY_SECRET", "example value"}},
		{"bad-push-networks-and-phone-limit", []string{"--database", url, "--issuer", "https://id.example.com", "--secret", secret.Generate(),
			"--push-networks", "10.0.0.0/8=Head office;lab;10.0.0.0/40=X", "--phone-limit-ip", "50/1h"},
			[]string{`LATCHKEY_PUSH_NETWORKS: "lab": want CIDR=place name`, `LATCHKEY_PUSH_NETWORKS: "10.0.0.0/40" is not a CIDR`,
				"LATCHKEY_PHONE_LIMIT_IP: may be stricter than 10/1h"}},
	})
}

// TestServeAndBench runs the production configuration (secret, no dev) on
// each database and points the load tool at it with small bounds: every
// default scenario must complete requests without an error (concurrent
// refresh rotations once deadlocked MariaDB under REPEATABLE READ), and the
// tool must remove what it created.
func TestServeAndBench(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		clearLatchkeyEnv(t)
		key := secret.Generate()
		common := []string{"--database", dbURL, "--secret", key, "--argon2-memory", "7168", "--argon2-time", "5"}
		// Email enabled (nothing is mailed here), so the bench user's
		// address counts as its recovery method and no registration
		// prompt stops its sign-ins.
		srv := startServe(t, append(common, "--smtp-url", "smtp://127.0.0.1:"+freePort(t)+"?from=idp@bench.invalid")...)
		resp, body := get(t, http.DefaultClient, srv.base+"/readyz")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("readyz: %d %s", resp.StatusCode, body)
		}
		var out, errb bytes.Buffer
		args := append([]string{"bench", "--url", srv.base, "--duration", "400ms", "--warmup", "100ms", "--concurrency", "4", "--ceilings"}, common...)
		if code := run(t.Context(), args, strings.NewReader(""), &out, &errb); code != 0 {
			t.Fatalf("bench: exit %d\n%s%s\nserver:\n%s", code, out.String(), errb.String(), srv.stderr.String())
		}
		for _, s := range []string{"discovery", "jwks", "cc-opaque", "cc-rs256", "cc-es256", "refresh", "refresh-es256", "introspect", "userinfo", "signin"} {
			wantRun(t, out.String(), s, "A")
		}
		for _, w := range []string{"RS256 sign", "argon2id m=7168 KiB t=5", "of the RS256 sign ceiling", "of the ES256 sign ceiling", "of the argon2id ceiling"} {
			if !strings.Contains(out.String(), w) {
				t.Errorf("output lacks %q:\n%s", w, out.String())
			}
		}
		// Outside dev mode every log line is JSON (for log shippers).
		for _, line := range strings.Split(strings.TrimSpace(srv.stderr.String()), "\n") {
			if !json.Valid([]byte(line)) {
				t.Errorf("log line is not JSON: %q", line)
			}
		}
		// The bench removed its temporary clients and user.
		cli := newCLIWith(t, dbURL, key)
		if r := cli.run("", "user", "show", benchUsername); r.code == 0 {
			t.Errorf("bench user left behind")
		}
		if r := cli.must("", "client", "list"); strings.Contains(r, "latchkey-bench") {
			t.Errorf("bench clients left behind:\n%s", r)
		}
	})
}

// TestBenchRecoveryAndCompare runs whole email recoveries through the
// bench's SMTP sink against a dev-mode server, and compares two real
// servers in alternating rounds: the comparable scenarios print a ratio.
func TestBenchRecoveryAndCompare(t *testing.T) {
	clearLatchkeyEnv(t)
	dir := t.TempDir()
	key := secret.Generate()
	fast := []string{"--argon2-memory", "7168", "--argon2-time", "5"}
	sink := "127.0.0.1:" + freePort(t)
	a := append([]string{"--dev", "--data-dir", dir, "--database", "sqlite://" + filepath.Join(dir, "a.db"), "--secret", key,
		"--pprof-listen", "off"}, fast...)
	srvA := startServe(t, append(a, "--captcha", "off", "--trusted-proxies", "127.0.0.1",
		"--smtp-url", "smtp://"+sink+"?from=idp@bench.invalid")...)
	bDB := "sqlite://" + filepath.Join(dir, "b.db")
	srvB := startServe(t, append([]string{"--database", bDB, "--secret", key}, fast...)...)
	peerSecret := randomSecret()
	newCLIWith(t, bDB, key).must(peerSecret+"\n", "client", "create", "--id", "peer-cc", "--name", "Peer",
		"--grant", "client_credentials", "--secret-stdin")
	t.Setenv("LATCHKEY_BENCH_COMPARE_SECRET", peerSecret)

	var out, errb bytes.Buffer
	// Each round is bounded by its request count, which the first round's
	// recovery users are just enough for: the second round needs users of
	// its own (it once ran out of them and completed nothing).
	args := append([]string{"bench", "--url", srvA.base, "--issuer", srvA.base, "--scenario", "discovery,cc-opaque,refresh,refresh-es256,recovery",
		"--compare", srvB.base, "--compare-client-id", "peer-cc", "--rounds", "2", "--duration", "1m", "--warmup", "0s",
		"--requests", "16", "--concurrency", "2", "--smtp-sink", sink, "--recovery-users", "2"}, a...)
	if code := run(t.Context(), args, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("bench: exit %d\n%s%s\nserver:\n%s", code, out.String(), errb.String(), srvA.stderr.String())
	}
	for _, s := range []string{"discovery", "cc-opaque"} {
		wantRun(t, out.String(), s, "A")
		wantRun(t, out.String(), s, "B")
		if !regexp.MustCompile(`(?m)^` + s + ` +=> A/B req/s [0-9.]+x`).MatchString(out.String()) {
			t.Errorf("%s: no ratio:\n%s", s, out.String())
		}
	}
	for _, s := range []string{"refresh", "refresh-es256", "recovery"} {
		wantRun(t, out.String(), s, "A")
	}
	if n := len(regexp.MustCompile(`(?m)^recovery +A +16 +0 `).FindAllString(out.String(), -1)); n != 2 {
		t.Errorf("want two recovery rounds of 16 recoveries, got %d:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "refresh       => not run on B") {
		t.Errorf("refresh: not said to be Latchkey-only:\n%s", out.String())
	}
}

// wantRun checks that every line of scenario on target completed requests
// without an error.
func wantRun(t *testing.T, out, scenario, target string) {
	t.Helper()
	found := false
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 5 || f[0] != scenario || f[1] != target {
			continue
		}
		found = true
		if f[2] == "0" || f[3] != "0" {
			t.Errorf("%s on %s: want requests and no errors, got %q\n%s", scenario, target, l, out)
		}
	}
	if !found {
		t.Errorf("%s on %s: no result line:\n%s", scenario, target, out)
	}
}

func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, sub) {
			return l
		}
	}
	return ""
}

// signInForm finds the sign-in form, or the registration prompt's skip
// form, on the page resp led to and fills it: its hidden fields, and the
// username and password when it asks for them. It returns where to post.
func signInForm(t *testing.T, resp *http.Response, body, username, password string) (*url.URL, url.Values) {
	t.Helper()
	target, vals, err := parseSignInForm(resp, body, username, password)
	if err != nil {
		t.Fatal(err)
	}
	return target, vals
}

// parseSignInForm is signInForm for goroutines, which may not stop the test.
func parseSignInForm(resp *http.Response, body, username, password string) (*url.URL, url.Values, error) {
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	form := doc.Find("form").FilterFunction(func(_ int, s *goquery.Selection) bool {
		a, _ := s.Attr("action")
		return s.Find(`input[name="password"]`).Length() > 0 || strings.HasSuffix(a, "/skip")
	}).First()
	if form.Length() == 0 {
		return nil, nil, fmt.Errorf("no sign-in or skip form at %s (%d):\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	vals := url.Values{}
	form.Find("input[name]").Each(func(_ int, s *goquery.Selection) {
		n, _ := s.Attr("name")
		v, _ := s.Attr("value")
		vals.Set(n, v)
	})
	if form.Find(`input[name="password"]`).Length() > 0 {
		vals.Set("username", username)
		vals.Set("password", password)
	}
	action, _ := form.Attr("action")
	target, err := resp.Request.URL.Parse(action)
	return target, vals, err
}
