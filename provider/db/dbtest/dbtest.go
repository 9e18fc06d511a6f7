// Package dbtest is the storage conformance kit: it hands each test a fresh,
// migrated database on every backend, so one suite runs against SQLite and
// MySQL alike.
//
// MySQL runs against LATCHKEY_TEST_MYSQL_DSN (default
// root@tcp(127.0.0.1:3306)/); each test creates and drops its own database.
// Without a reachable server the MySQL subtests skip, unless
// LATCHKEY_TEST_MYSQL=required (CI), where they fail.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// Backend names a database kind under test.
type Backend string

const (
	SQLite Backend = "sqlite"
	MySQL  Backend = "mysql"
)

// Backends lists every backend the conformance suites run against.
var Backends = []Backend{SQLite, MySQL}

// Each runs fn as a subtest per backend, each with a fresh database URL
// (nothing migrated yet). Use it when the test needs the URL itself, for
// example to start a real server on it.
func Each(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	for _, b := range Backends {
		t.Run(string(b), func(t *testing.T) { fn(t, URL(t, b)) })
	}
}

// EachDB runs fn per backend with a fresh, opened database to which the given
// migration sets have been applied.
func EachDB(t *testing.T, sets []db.Set, fn func(t *testing.T, g *gorm.DB)) {
	t.Helper()
	Each(t, func(t *testing.T, url string) { fn(t, Open(t, url, sets...)) })
}

// Open opens url, applies the sets and closes the pool when the test ends.
func Open(t testing.TB, url string, sets ...db.Set) *gorm.DB {
	t.Helper()
	ctx := context.Background()
	g, err := db.Open(ctx, url)
	if err != nil {
		t.Fatalf("dbtest: open: %v", err)
	}
	t.Cleanup(func() { db.Close(g) })
	for _, s := range sets {
		if err := db.Migrate(ctx, g, s); err != nil {
			t.Fatalf("dbtest: %v", err)
		}
	}
	return g
}

// URL returns the URL of a fresh, empty database of backend b, removed when
// the test ends.
func URL(t testing.TB, b Backend) string {
	t.Helper()
	switch b {
	case SQLite:
		return "sqlite://" + filepath.Join(t.TempDir(), "latchkey.db")
	case MySQL:
		return mysqlURL(t)
	}
	t.Fatalf("dbtest: unknown backend %q", b)
	return ""
}

// MySQLRequired reports whether CI demands the MySQL backend.
func MySQLRequired() bool { return os.Getenv("LATCHKEY_TEST_MYSQL") == "required" }

func mysqlServerDSN() string {
	if dsn := os.Getenv("LATCHKEY_TEST_MYSQL_DSN"); dsn != "" {
		return dsn
	}
	return "root@tcp(127.0.0.1:3306)/"
}

func mysqlURL(t testing.TB) string {
	t.Helper()
	cfg, err := gomysql.ParseDSN(mysqlServerDSN())
	if err != nil {
		t.Fatalf("dbtest: LATCHKEY_TEST_MYSQL_DSN: %v", err)
	}
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = admin.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if admin != nil {
			_ = admin.Close()
		}
		if MySQLRequired() {
			t.Fatalf("dbtest: MySQL is required (LATCHKEY_TEST_MYSQL=required) but unreachable at %s: %v", cfg.Addr, err)
		}
		t.Skipf("dbtest: MySQL unreachable at %s (set LATCHKEY_TEST_MYSQL=required to fail instead): %v", cfg.Addr, err)
	}
	name := "latchkey_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4"); err != nil {
		_ = admin.Close()
		t.Fatalf("dbtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name); err != nil {
			t.Logf("dbtest: drop %s: %v", name, err)
		}
		_ = admin.Close()
	})
	cfg.DBName = name
	return fmt.Sprintf("mysql://%s", cfg.FormatDSN())
}
