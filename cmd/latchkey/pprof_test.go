package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// The profiler answers only on its own listener, and only when asked for
// (or in dev mode, on loopback); the public listener never serves it.
func TestServePprof(t *testing.T) {
	pprofPort := freePort(t)
	tests := []struct {
		name      string
		args      func(t *testing.T) []string
		pprofBase string // "" when no profiler may answer
		logWants  string
	}{
		{"explicit-listener", func(t *testing.T) []string {
			return []string{"--database", dbtest.URL(t, dbtest.SQLite), "--secret", secret.Generate(), "--pprof-listen", "127.0.0.1:" + pprofPort}
		}, "http://127.0.0.1:" + pprofPort, "pprof listening"},
		{"off-by-default", func(t *testing.T) []string {
			return []string{"--database", dbtest.URL(t, dbtest.SQLite), "--secret", secret.Generate()}
		}, "", ""},
		{"dev-mode-off", func(t *testing.T) []string {
			dir := filepath.Join(t.TempDir(), "data")
			return []string{"--dev", "--data-dir", dir, "--database", "sqlite://" + filepath.Join(dir, "latchkey.db"), "--pprof-listen", "off"}
		}, "", ""},
		// Dev mode's default is loopback port 6060, best effort: another
		// process may hold the port, which must not stop a dev server.
		{"dev-mode-default-loopback", func(t *testing.T) []string {
			dir := filepath.Join(t.TempDir(), "data")
			return []string{"--dev", "--data-dir", dir, "--database", "sqlite://" + filepath.Join(dir, "latchkey.db")}
		}, "", "127.0.0.1:6060"},
	}
	client := &http.Client{Timeout: 30 * time.Second}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearLatchkeyEnv(t)
			srv := startServe(t, append(tt.args(t), "--argon2-memory", "7168", "--argon2-time", "5")...)
			for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
				if resp, body := get(t, client, srv.base+path); resp.StatusCode == http.StatusOK {
					t.Errorf("public listener serves %s: %d %.80q", path, resp.StatusCode, body)
				}
			}
			logs := srv.stderr.String()
			if tt.logWants != "" && !strings.Contains(logs, tt.logWants) {
				t.Errorf("log lacks %q:\n%s", tt.logWants, logs)
			}
			if tt.pprofBase == "" {
				if tt.logWants == "" && strings.Contains(logs, "pprof listening") {
					t.Errorf("profiler started though off:\n%s", logs)
				}
				return
			}
			resp, body := get(t, client, tt.pprofBase+"/debug/pprof/")
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "goroutine") {
				t.Fatalf("profiler index: %d %.200q", resp.StatusCode, body)
			}
			resp, body = get(t, client, tt.pprofBase+"/debug/pprof/goroutine?debug=1")
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, "goroutine profile") {
				t.Fatalf("goroutine profile: %d %.200q", resp.StatusCode, body)
			}
			// The profiler stops with the server.
			if code := srv.stop(); code != 0 {
				t.Fatalf("serve exit %d", code)
			}
			if _, err := client.Get(tt.pprofBase + "/debug/pprof/"); err == nil {
				t.Error("profiler still answers after shutdown")
			}
		})
	}
}
