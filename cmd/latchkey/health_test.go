package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
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

// TestRefusesNewerSchema: after a newer release migrated the database, an
// older binary's migrate and serve stop with both versions named.
func TestRefusesNewerSchema(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		cli := newCLI(t, dbURL)
		cli.must("", "migrate")
		g := dbtest.Open(t, dbURL)
		set := migrationSets()[0]
		if err := g.Exec("INSERT INTO "+set.Table+" (id) VALUES (?)", "9999_from_a_newer_release").Error; err != nil {
			t.Fatal(err)
		}
		newest := set.Migrations[len(set.Migrations)-1].ID
		for _, cmd := range []string{"migrate", "serve"} {
			t.Run(cmd, func(t *testing.T) {
				r := cli.run("", cmd, "--listen", "127.0.0.1:0", "--metrics-listen", "off")
				if r.code != exitFailed {
					t.Fatalf("exit %d, want %d\n%s", r.code, exitFailed, r.err)
				}
				for _, want := range []string{"database schema is newer than this latchkey", "9999_from_a_newer_release", newest, "upgrade latchkey"} {
					if !strings.Contains(r.err, want) {
						t.Errorf("stderr lacks %q:\n%s", want, r.err)
					}
				}
			})
		}
	})
}
