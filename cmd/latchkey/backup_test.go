package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// mysqlArgs are the client options reaching the database of a dbtest
// MySQL URL, and its name.
func mysqlArgs(t *testing.T, url string) ([]string, string) {
	t.Helper()
	cfg, err := gomysql.ParseDSN(strings.TrimPrefix(url, "mysql://"))
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(cfg.Addr, ":")
	args := []string{"--protocol=TCP", "-h", host, "-P", port, "-u", cfg.User}
	if cfg.Passwd != "" {
		args = append(args, "-p"+cfg.Passwd)
	}
	return args, cfg.DBName
}

func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if dbtest.MySQLRequired() {
			t.Fatalf("%s is required with LATCHKEY_TEST_MYSQL=required (Debian: mariadb-client): %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// The documented backup procedures, restored into a fresh database and
// started with the same LATCHKEY_SECRET: every user signs in, the TOTP app
// and the email address verify, the queued mail goes out and the signing
// keys are the same, so every value sealed under the secret survived.
func TestBackupRestore(t *testing.T) {
	for _, b := range dbtest.Backends {
		t.Run(string(b), func(t *testing.T) {
			clearLatchkeyEnv(t)
			key := secret.Generate()
			k, _ := secret.Parse(key)
			src := dbtest.URL(t, b)
			f := plugintest.Fill(t, src, k)
			var restored string
			switch b {
			case dbtest.SQLite:
				// latchkey backup while a server runs on the database.
				x := plugintest.Start(t, src, plugintest.Options{Methods: []string{"totp", "email"}, Keyring: k, Reuse: true})
				plugintest.SignInAs(t, x, plugintest.BobUsername, plugintest.BobPassword)
				file := filepath.Join(t.TempDir(), "backup.db")
				newCLIWith(t, src, key).must("", "backup", "--to", file)
				if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
					t.Fatalf("backup file: %v, %v (want mode 0600)", fi, err)
				}
				if r := newCLIWith(t, src, key).run("", "backup", "--to", file); r.code == 0 {
					t.Fatal("backup overwrote an existing file")
				}
				// Restore: the copy is the database; put it where the new
				// instance's LATCHKEY_DATABASE points.
				dst := filepath.Join(t.TempDir(), "restored.db")
				raw, err := os.ReadFile(file) // #nosec G304 -- test file
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(dst, raw, 0o600); err != nil {
					t.Fatal(err)
				}
				restored = "sqlite://" + dst
			case dbtest.MySQL:
				// latchkey backup is for SQLite and says what to use instead.
				if r := newCLIWith(t, src, key).run("", "backup", "--to", filepath.Join(t.TempDir(), "x.db")); r.code == 0 || !strings.Contains(r.err, "mysqldump") {
					t.Fatalf("backup of MySQL: exit %d, %s", r.code, r.err)
				}
				dump := tool(t, "mysqldump")
				client := tool(t, "mysql")
				args, name := mysqlArgs(t, src)
				file := filepath.Join(t.TempDir(), "latchkey.sql")
				out, err := exec.Command(dump, append(args, "--single-transaction", "--routines", "--triggers", // #nosec G204 -- test
					"--hex-blob", "--result-file="+file, name)...).CombinedOutput()
				if err != nil {
					t.Fatalf("mysqldump: %v\n%s", err, out)
				}
				restored = dbtest.URL(t, dbtest.MySQL) // a fresh, empty database
				rargs, rname := mysqlArgs(t, restored)
				in, err := os.Open(file) // #nosec G304 -- test file
				if err != nil {
					t.Fatal(err)
				}
				defer in.Close()
				cmd := exec.Command(client, append(rargs, rname)...) // #nosec G204 -- test
				cmd.Stdin = in
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("mysql < dump: %v\n%s", err, out)
				}
			}
			f.Check(t, restored, k)
		})
	}
}

// `latchkey secret rotate` with the new secret in LATCHKEY_SECRET and the
// old one in LATCHKEY_SECRET_PREVIOUS; afterwards the new secret alone
// opens everything. Without the previous secret it refuses.
func TestSecretRotateCommand(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		clearLatchkeyEnv(t)
		oldKey, newKey := secret.Generate(), secret.Generate()
		oldK, _ := secret.Parse(oldKey)
		newK, _ := secret.Parse(newKey)
		f := plugintest.Fill(t, url, oldK)
		c := newCLIWith(t, url, newKey)
		if r := c.run("", "secret", "rotate"); r.code != exitUsage || !strings.Contains(r.err, "LATCHKEY_SECRET_PREVIOUS") {
			t.Fatalf("without the previous secret: exit %d, %s", r.code, r.err)
		}
		if r := c.run("", "secret", "rotate", "--secret-previous", newKey); r.code != exitUsage {
			t.Fatalf("previous = current: exit %d, %s", r.code, r.err)
		}
		// The servers run with both secrets while the rotation runs; the
		// web app's client secret moves over at its first use.
		t.Run("window", func(t *testing.T) {
			x := plugintest.Start(t, url, plugintest.Options{Methods: []string{"totp", "email"}, Keyring: newK.WithPrevious(oldK), Reuse: true})
			plugintest.SignInAs(t, x, plugintest.BobUsername, plugintest.BobPassword)
		})
		out := c.must("", "secret", "rotate", "--secret-previous", oldKey, "--batch", "1")
		if !strings.Contains(out, "signing-keys         re-sealed 2") || !strings.Contains(out, "methods              re-sealed 2") {
			t.Fatalf("rotate output:\n%s", out)
		}
		again := c.must("", "secret", "rotate", "--secret-previous", oldKey)
		if strings.Contains(again, "re-sealed 1") || strings.Contains(again, "re-sealed 2") {
			t.Fatalf("a finished rotation re-sealed again:\n%s", again)
		}
		if !strings.Contains(c.must("", "audit", "--type", "admin.secret.rotate"), "ok") {
			t.Fatal("rotation not audited")
		}
		f.Check(t, url, newK)
	})
}
