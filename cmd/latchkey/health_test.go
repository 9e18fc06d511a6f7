package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/secret"
)

// TestHealthcheck: the image's HEALTHCHECK runs `latchkey healthcheck`;
// it exits 0 only when the endpoint answers 200.
func TestHealthcheck(t *testing.T) {
	clearLatchkeyEnv(t)
	srv := startServe(t, "--database", "sqlite://"+t.TempDir()+"/l.db", "--secret", secret.Generate(),
		"--argon2-memory", "7168", "--argon2-time", "5")
	addr := strings.TrimPrefix(srv.base, "http://")
	tests := []struct {
		name string
		args []string
		env  string // LATCHKEY_LISTEN
		code int
		want string
	}{
		{"readyz-by-flag", []string{"--addr", addr}, "", exitOK, "200 OK"},
		{"healthz-by-flag", []string{"--addr", addr, "--path", "/healthz"}, "", exitOK, "/healthz"},
		{"address-from-listen-env", nil, addr, exitOK, "200 OK"},
		{"address-from-listen-flag", []string{"--listen", addr}, "", exitOK, "200 OK"},
		{"nothing-listening", []string{"--addr", "127.0.0.1:" + freePort(t)}, "", exitFailed, "healthcheck:"},
		{"not-a-probe-path", []string{"--addr", addr, "--path", "/keys"}, "", exitUsage, "/keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("LATCHKEY_LISTEN", tt.env)
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"healthcheck"}, tt.args...), strings.NewReader(""), &out, &errb)
			if code != tt.code || !strings.Contains(out.String()+errb.String(), tt.want) {
				t.Fatalf("exit %d, want %d; out %q err %q, want %q", code, tt.code, out.String(), errb.String(), tt.want)
			}
		})
	}
}

func TestProbeAddr(t *testing.T) {
	for listen, want := range map[string]string{
		":8080":          "127.0.0.1:8080",
		"0.0.0.0:8080":   "127.0.0.1:8080",
		"[::]:8080":      "127.0.0.1:8080",
		"127.0.0.1:9000": "127.0.0.1:9000",
		"10.1.2.3:8080":  "10.1.2.3:8080",
	} {
		if got := probeAddr(listen); got != want {
			t.Errorf("probeAddr(%q) = %q, want %q", listen, got, want)
		}
	}
}

func TestVersion(t *testing.T) {
	defer func(v string) { version = v }(version)
	version = "v9.8.7-test"
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version"}, strings.NewReader(""), &out, &out); code != exitOK || out.String() != "latchkey v9.8.7-test\n" {
		t.Fatalf("exit %d, output %q", code, out.String())
	}
}
