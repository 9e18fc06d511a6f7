package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/config"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// TestServeMetricsOnTheirOwnListener: the public listener has no
// /metrics; LATCHKEY_METRICS_LISTEN serves it and nothing else.
func TestServeMetricsOnTheirOwnListener(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		clearLatchkeyEnv(t)
		srv := startServe(t, "--database", dbURL, "--secret", secret.Generate(), "--argon2-memory", "7168", "--argon2-time", "5")
		tests := []struct {
			name   string
			url    string
			status int
			want   string
		}{
			{"public-listener-has-no-metrics", srv.base + "/metrics", http.StatusNotFound, ""},
			{"metrics-listener-serves-metrics", srv.metrics + "/metrics", http.StatusOK, "latchkey_http_requests_total"},
			{"metrics-listener-serves-nothing-else", srv.metrics + "/.well-known/openid-configuration", http.StatusNotFound, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp, body := get(t, http.DefaultClient, tt.url)
				if resp.StatusCode != tt.status || !strings.Contains(body, tt.want) || (tt.want == "" && strings.Contains(body, "latchkey_")) {
					t.Fatalf("GET %s: %d %.300s", tt.url, resp.StatusCode, body)
				}
			})
		}
	})
}

// TestServeMetricsListenDefaultsToLoopback: without the setting, metrics
// are on 127.0.0.1:9464, never on every interface.
func TestServeMetricsListenDefaultsToLoopback(t *testing.T) {
	clearLatchkeyEnv(t)
	c := parseServeConfig(t)
	if c.MetricsListen != "127.0.0.1:9464" {
		t.Fatalf("metrics listen default %q", c.MetricsListen)
	}
	host, _, _ := net.SplitHostPort(c.MetricsListen)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Fatalf("metrics default %q is not loopback", c.MetricsListen)
	}
}

// TestDevModeListensOnLoopbackByDefault: `serve --dev` without
// LATCHKEY_LISTEN answers on 127.0.0.1:8080 only; LATCHKEY_LISTEN still
// chooses.
func TestDevModeListensOnLoopbackByDefault(t *testing.T) {
	clearLatchkeyEnv(t)
	t.Run("dev-default-is-loopback", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:8080")
		if err != nil {
			t.Skipf("port 8080 is taken on this machine, cannot start the default dev server: %v", err)
		}
		ln.Close()
		dir := filepath.Join(t.TempDir(), "data")
		srv := startServeArgs(t, "http://127.0.0.1:8080", []string{"serve", "--dev", "--data-dir", dir,
			"--database", "sqlite://" + filepath.Join(dir, "latchkey.db"), "--metrics-listen", "127.0.0.1:" + freePort(t),
			"--argon2-memory", "7168", "--argon2-time", "5"})
		if srv.addr != "127.0.0.1:8080" {
			t.Fatalf("dev mode listens on %s, want 127.0.0.1:8080", srv.addr)
		}
		if resp, body := get(t, http.DefaultClient, srv.base+"/healthz"); resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("listen-setting-wins", func(t *testing.T) {
		t.Setenv("LATCHKEY_LISTEN", "0.0.0.0:9999")
		if got := parseServeConfig(t, "--dev").EffectiveListen(); got != "0.0.0.0:9999" {
			t.Fatalf("effective listen %q", got)
		}
	})
	t.Run("production-default-is-every-interface", func(t *testing.T) {
		clearLatchkeyEnv(t)
		if got := parseServeConfig(t).EffectiveListen(); got != ":8080" {
			t.Fatalf("effective listen %q", got)
		}
	})
}

// TestDevOutboxOnlyForLoopback: the outbox (every code dev mode sends) is
// served to a client on this machine only, judged by the TCP peer; a
// forwarded header cannot make a remote client local.
func TestDevOutboxOnlyForLoopback(t *testing.T) {
	clearLatchkeyEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	port := freePort(t)
	base := "http://127.0.0.1:" + port
	srv := startServeArgs(t, base, []string{"serve", "--dev", "--listen", "0.0.0.0:" + port, "--issuer", base,
		"--data-dir", dir, "--database", "sqlite://" + filepath.Join(dir, "latchkey.db"),
		"--metrics-listen", "127.0.0.1:" + freePort(t), "--argon2-memory", "7168", "--argon2-time", "5"})
	outbox := func(t *testing.T, dial string, header http.Header) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+dial+"/dev/outbox", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "127.0.0.1:" + port // an allowed Host: only the peer differs
		for k, v := range header {
			req.Header[k] = v
		}
		c := &http.Client{Timeout: 10 * time.Second}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"loopback-peer", nil, http.StatusOK},
		{"loopback-peer-forwarding-for-a-remote-client", http.Header{"X-Forwarded-For": {"203.0.113.7"}}, http.StatusNotFound},
		{"loopback-peer-forwarded-header", http.Header{"Forwarded": {`for="198.51.100.2:4711";proto=http`}}, http.StatusNotFound},
		{"loopback-peer-forwarding-for-loopback", http.Header{"X-Forwarded-For": {"127.0.0.1"}}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := outbox(t, "127.0.0.1:"+port, tt.header); got != tt.want {
				t.Fatalf("status %d, want %d\n%s", got, tt.want, srv.stderr.String())
			}
		})
	}
	t.Run("non-loopback-peer-even-claiming-loopback", func(t *testing.T) {
		ip := nonLoopbackIP(t)
		if got := outbox(t, net.JoinHostPort(ip, port), http.Header{"X-Forwarded-For": {"127.0.0.1"}}); got != http.StatusNotFound {
			t.Fatalf("outbox from %s: %d, want 404", ip, got)
		}
	})
}

// nonLoopbackIP is an address of this machine other than loopback: a
// connection to it has that address as its peer.
func nonLoopbackIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address to connect from")
	return ""
}

// parseServeConfig reads the settings as the command line does.
func parseServeConfig(t *testing.T, args ...string) config.Config {
	t.Helper()
	c, err := config.Parse(args)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestServeDevDataIsPrivate: the files `serve --dev` creates (SQLite with
// its -wal and -shm, the generated secret) are the user's alone.
func TestServeDevDataIsPrivate(t *testing.T) {
	clearLatchkeyEnv(t)
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := filepath.Join(t.TempDir(), "data")
	srv := startServe(t, "--dev", "--data-dir", dir, "--database", "sqlite://"+filepath.Join(dir, "latchkey.db"),
		"--argon2-memory", "7168", "--argon2-time", "5")
	if resp, body := get(t, http.DefaultClient, srv.base+"/readyz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d %s", resp.StatusCode, body)
	}
	tests := []struct {
		name, file string
		want       os.FileMode
	}{
		{"database", "latchkey.db", 0o600},
		{"wal", "latchkey.db-wal", 0o600},
		{"shm", "latchkey.db-shm", 0o600},
		{"secret", "secret", 0o600},
		{"data-dir", ".", 0o700},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := os.Stat(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != tt.want {
				t.Fatalf("%s: mode %v, want %v", tt.file, st.Mode().Perm(), tt.want)
			}
		})
	}
}
