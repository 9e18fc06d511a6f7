package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/config"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// cliEnv runs the real command line in-process against one database.
type cliEnv struct {
	t      *testing.T
	dbURL  string
	secret string
}

func newCLI(t *testing.T, dbURL string) *cliEnv {
	t.Helper()
	clearLatchkeyEnv(t)
	return newCLIWith(t, dbURL, secret.Generate())
}

func newCLIWith(t *testing.T, dbURL, key string) *cliEnv {
	return &cliEnv{t: t, dbURL: dbURL, secret: key}
}

type result struct {
	out, err string
	code     int
}

// run executes latchkey with args (global settings appended) and stdin.
func (c *cliEnv) run(stdin string, args ...string) result {
	c.t.Helper()
	// Argon2id at OWASP's cheapest equivalent keeps the suite fast.
	full := append(args, "--database", c.dbURL, "--secret", c.secret,
		"--argon2-memory", "7168", "--argon2-time", "5")
	var out, errb bytes.Buffer
	code := run(c.t.Context(), full, strings.NewReader(stdin), &out, &errb)
	return result{out.String(), errb.String(), code}
}

// cliStep is one command of a table-driven CLI test and what it must
// answer.
type cliStep struct {
	name   string
	stdin  string
	args   []string
	code   int    // the exit status
	out    string // substring of stdout (or stderr when code != 0)
	absent string // must appear in neither stream ("" checks nothing)
}

// runSteps runs steps in order, failing at the first that answers
// otherwise, and returns each step's result by name.
func (c *cliEnv) runSteps(steps []cliStep) map[string]result {
	c.t.Helper()
	results := make(map[string]result, len(steps))
	for _, s := range steps {
		r := c.run(s.stdin, s.args...)
		if r.code != s.code {
			c.t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", s.name, r.code, s.code, r.out, r.err)
		}
		got := r.out
		if s.code != 0 {
			got = r.err
		}
		if !strings.Contains(got, s.out) {
			c.t.Fatalf("%s: output lacks %q:\nstdout: %s\nstderr: %s", s.name, s.out, r.out, r.err)
		}
		if s.absent != "" && strings.Contains(r.out+r.err, s.absent) {
			c.t.Fatalf("%s: output shows %q:\n%s%s", s.name, s.absent, r.out, r.err)
		}
		results[s.name] = r
	}
	return results
}

func (c *cliEnv) must(stdin string, args ...string) string {
	c.t.Helper()
	r := c.run(stdin, args...)
	if r.code != 0 {
		c.t.Fatalf("latchkey %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r.out
}

// clearLatchkeyEnv keeps the developer's LATCHKEY_* variables out of tests.
func clearLatchkeyEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "LATCHKEY_") && !strings.HasPrefix(k, "LATCHKEY_TEST_") { // the test harness's own settings stay
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

func TestHelpAndUsage(t *testing.T) {
	clearLatchkeyEnv(t)
	tests := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"help", []string{"--help"}, 0, "latchkey <command>"},
		{"user-help", []string{"user", "create", "--help"}, 0, "--password-stdin"},
		{"unknown-command", []string{"frobnicate"}, exitUsage, "unexpected argument"},
		{"no-password-flag", []string{"user", "create", "--username", "a", "--email", "a@b.c", "--password", "x"}, exitUsage, "unknown flag --password"},
		{"missing-password-source", []string{"user", "create", "--username", "a", "--email", "a@b.c"}, exitUsage, "missing flags"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, strings.NewReader(""), &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String()+errb.String(), tt.contains) {
				t.Fatalf("output lacks %q:\n%s%s", tt.contains, out.String(), errb.String())
			}
		})
	}
}

func TestDevSecret(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s1, err := devSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := secret.Parse(s1); err != nil {
		t.Fatalf("generated secret does not parse: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v, want 0600", fi.Mode().Perm())
	}
	s2, err := devSecret(dir)
	if err != nil || s2 != s1 {
		t.Fatalf("second call: %q, %v; want the saved secret reused", s2, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := devSecret(dir); err == nil {
		t.Fatal("a corrupt secret file must be an error, not silently replaced")
	}
}

func TestConfigErrorsExitUsage(t *testing.T) {
	clearLatchkeyEnv(t)
	url := dbtest.URL(t, dbtest.SQLite)
	checkUsageErrors(t, nil, []usageCase{
		{"bad-database", []string{"user", "list", "--database", "postgres://x"}, []string{"LATCHKEY_DATABASE"}},
		{"secret-needed-for-keys", []string{"keys", "list", "--database", url}, []string{"LATCHKEY_SECRET"}},
		{"example-secret", []string{"keys", "list", "--database", url, "--secret", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}, []string{"example value"}},
	})
}

// usageCase is a command line that must exit with exitUsage, naming each
// of want on stderr.
type usageCase struct {
	name string
	args []string
	want []string
}

// checkUsageErrors runs each case, its args after cmd, as a subtest.
func checkUsageErrors(t *testing.T, cmd []string, cases []usageCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(t.Context(), append(slices.Clone(cmd), tt.args...), strings.NewReader(""), &out, &errb)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitUsage, out.String(), errb.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
		})
	}
}

// cfgAccessTTL is the access token lifetime the commands apply by default.
func (c *cliEnv) cfgAccessTTL() time.Duration { return 10 * time.Minute }

// Settings come from a --config YAML file too, with flags winning.
func TestConfigFile(t *testing.T) {
	clearLatchkeyEnv(t)
	dir := t.TempDir()
	dbURL := "sqlite://" + filepath.Join(dir, "from-file.db")
	file := filepath.Join(dir, "latchkey.yaml")
	body := "database: " + dbURL + "\nsecret: " + secret.Generate() + "\nargon2-memory: 7168\nargon2-time: 5\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"--config", file, "user", "create", "--username", "filed", "--email", "filed@example.com",
		"--password-stdin"}, strings.NewReader(alicePW+"\n"), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "from-file.db")); err != nil {
		t.Fatalf("database from the file not used: %v", err)
	}
	out.Reset()
	if code := run(t.Context(), []string{"--config", file, "user", "list"}, strings.NewReader(""), &out, &errb); code != 0 || !strings.Contains(out.String(), "filed") {
		t.Fatalf("list via file: %d %s %s", code, out.String(), errb.String())
	}
	// A flag overrides the file: another (empty) database.
	out.Reset()
	other := "sqlite://" + filepath.Join(dir, "other.db")
	if code := run(t.Context(), []string{"--config", file, "--database", other, "user", "list"}, strings.NewReader(""), &out, &errb); code != 0 || strings.Contains(out.String(), "filed") {
		t.Fatalf("flag did not override the file: %d %s %s", code, out.String(), errb.String())
	}
	// A typo in the file is an error, not a silently ignored setting.
	if err := os.WriteFile(file, []byte("databse: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if code := run(t.Context(), []string{"--config", file, "user", "list"}, strings.NewReader(""), &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "databse") {
		t.Fatalf("typo: exit %d %s", code, errb.String())
	}
}

func TestDevIssuerFollowsListen(t *testing.T) {
	tests := []struct {
		name   string
		dev    bool
		listen string
		issuer string
		want   string
	}{
		{"default", true, ":8080", "http://localhost:8080", "http://localhost:8080"},
		{"other-port", true, ":9090", "http://localhost:8080", "http://localhost:9090"},
		{"explicit-issuer-kept", true, ":9090", "http://127.0.0.1:9999", "http://127.0.0.1:9999"},
		{"not-dev", false, ":9090", "http://localhost:8080", "http://localhost:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Defaults()
			c.Dev, c.Listen, c.Issuer = tt.dev, tt.listen, tt.issuer
			if got := devIssuer(c); got != tt.want {
				t.Fatalf("devIssuer = %q, want %q", got, tt.want)
			}
		})
	}
}
