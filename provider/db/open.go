package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	gormsqlite "github.com/libtnb/sqlite"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	"gorm.io/plugin/dbresolver"
)

// Dialects, as reported by (*gorm.DB).Dialector.Name().
const (
	SQLite = "sqlite"
	MySQL  = "mysql"
)

// ErrBadURL is returned for a LATCHKEY_DATABASE value that is neither
// sqlite://PATH nor mysql://DSN.
var ErrBadURL = errors.New("database URL must be sqlite://PATH or mysql://user:pass@tcp(host:port)/db")

// Open connects to the database named by url and checks that it answers.
// Times are always written and read in UTC.
//
// On SQLite, writes have one connection of their own and reads a pool of
// query-only connections (routed by gorm.io/plugin/dbresolver: queries
// outside a transaction read, everything else writes); see Writer.
func Open(ctx context.Context, url string) (*gorm.DB, error) {
	dial, read, err := dialector(url)
	if err != nil {
		return nil, err
	}
	g, err := gorm.Open(dial, &gorm.Config{
		NowFunc:                func() time.Time { return time.Now().UTC() },
		Logger:                 logger.Discard,
		TranslateError:         true,
		SkipDefaultTransaction: true, // single statements are atomic already
		PrepareStmt:            false,
	})
	if err != nil {
		if read != nil {
			_ = read.Close()
		}
		return nil, fmt.Errorf("db: open: %w", err)
	}
	write, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("db: open: %w", err)
	}
	p := &pools{read: read}
	fail := func(err error) (*gorm.DB, error) {
		if p.writer != nil {
			_ = p.close(write)
		} else {
			_ = write.Close()
			if read != nil {
				_ = read.Close()
			}
		}
		return nil, err
	}
	if g.Dialector.Name() == SQLite {
		if read != nil {
			err := g.Use(dbresolver.Register(dbresolver.Config{
				Replicas: []gorm.Dialector{gormsqlite.New(gormsqlite.Config{Conn: read})},
			}))
			if err != nil {
				return fail(fmt.Errorf("db: open: %w", err))
			}
		}
		p.writer = newWriter(g, write, groupCommit)
	} else {
		write.SetMaxOpenConns(32)
		write.SetMaxIdleConns(32)
		write.SetConnMaxLifetime(5 * time.Minute)
		p.writer = newWriter(g, write, groupInserts)
	}
	if err := g.Use(p); err != nil {
		return fail(fmt.Errorf("db: open: %w", err))
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, pool := range []*sql.DB{write, read} {
		if pool == nil {
			continue
		}
		if err := pool.PingContext(pingCtx); err != nil {
			return fail(fmt.Errorf("db: connect: %w", err))
		}
	}
	return g, nil
}

// Close commits the writes still queued, then closes the pools.
func Close(g *gorm.DB) {
	sqlDB, err := g.DB()
	if err != nil {
		return
	}
	if p, ok := g.Config.Plugins[poolsName].(*pools); ok {
		err = p.close(sqlDB)
	} else {
		err = sqlDB.Close()
	}
	if err != nil {
		slog.Warn("db: close", "err", err)
	}
}

// dialector returns the dialector for raw and, on SQLite, the read pool
// beside it (nil for an in-memory database, which is one per connection).
func dialector(raw string) (gorm.Dialector, *sql.DB, error) {
	switch {
	case strings.HasPrefix(raw, "sqlite://"):
		path := strings.TrimPrefix(raw, "sqlite://")
		if path == "" {
			return nil, nil, ErrBadURL
		}
		if path != ":memory:" && !strings.HasPrefix(path, "file:") {
			if err := createPrivate(path); err != nil {
				return nil, nil, err
			}
		}
		return sqlitePools(path)
	case strings.HasPrefix(raw, "mysql://"):
		cfg, err := MySQLConfig(strings.TrimPrefix(raw, "mysql://"))
		if err != nil {
			return nil, nil, err
		}
		if err := readCommitted(cfg); err != nil {
			return nil, nil, err
		}
		// Arguments are escaped client-side into the statement text (safe
		// with utf8mb4): one round trip per statement instead of three
		// (prepare, execute, close), on every query GORM or the Writer runs.
		cfg.InterpolateParams = true
		if err := causalReads(cfg); err != nil {
			return nil, nil, err
		}
		return mysql.New(mysql.Config{DSNConfig: cfg, DSN: cfg.FormatDSN()}), nil, nil
	default:
		return nil, nil, ErrBadURL
	}
}

// createPrivate makes sure the SQLite database file exists and is 0600, in
// a directory created 0700: it holds password hashes, sealed secrets and
// the hashes of live codes and tokens. SQLite would create it with the
// process umask (0644 as a rule), and it gives the -wal and -shm files it
// creates the database file's mode, so creating the file first is enough.
// An existing file keeps the mode its operator chose; a warning says when
// others can read it.
func createPrivate(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("db: create data dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- the path is the operator's LATCHKEY_DATABASE
	switch {
	case err == nil:
		if err := f.Chmod(0o600); err != nil { // whatever the umask
			_ = f.Close()
			return fmt.Errorf("db: create %s: %w", path, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("db: create %s: %w", path, err)
		}
		return nil
	case errors.Is(err, os.ErrExist):
		if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
			slog.Warn("db: the SQLite database file can be read by other users; chmod 600 it and its -wal and -shm files",
				"path", path, "mode", st.Mode().Perm().String())
		}
		return nil
	default:
		return fmt.Errorf("db: create %s: %w", path, err)
	}
}

// MySQLConfig parses a go-sql-driver DSN and forces the settings Latchkey
// relies on: parsed UTC times and utf8mb4.
func MySQLConfig(dsn string) (*gomysql.Config, error) {
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("db: %w: %w", ErrBadURL, err)
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["charset"] = "utf8mb4"
	cfg.Params["time_zone"] = "'+00:00'"
	return cfg, nil
}

// readCommitted makes every connection use READ COMMITTED, unless the DSN
// already chose an isolation level. Under InnoDB's default REPEATABLE READ,
// concurrent single-use updates (refresh rotation, code redemption) take gap
// locks and deadlock (error 1213) under load; every one-time credential here
// is guarded by a conditional UPDATE, which READ COMMITTED keeps atomic.
// The variable is tx_isolation on MariaDB before 11.1 and
// transaction_isolation on MySQL 8, so ask the server which it speaks.
func readCommitted(cfg *gomysql.Config) error {
	for _, k := range []string{"tx_isolation", "transaction_isolation"} {
		if _, ok := cfg.Params[k]; ok {
			return nil
		}
	}
	probe, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return fmt.Errorf("db: open: %w", err)
	}
	defer probe.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var name string
	err = probe.QueryRowContext(ctx, "SELECT CASE WHEN @@version LIKE '%MariaDB%' AND @@version < '11.1' THEN 'tx_isolation' ELSE 'transaction_isolation' END").Scan(&name)
	if err != nil {
		return fmt.Errorf("db: connect: %w", err)
	}
	cfg.Params[name] = "'READ-COMMITTED'"
	return nil
}

// Redact hides the password of a database URL for logs.
func Redact(raw string) string {
	if strings.HasPrefix(raw, "mysql://") {
		if cfg, err := gomysql.ParseDSN(strings.TrimPrefix(raw, "mysql://")); err == nil && cfg.Passwd != "" {
			cfg.Passwd = "xxxxx"
			return "mysql://" + cfg.FormatDSN()
		}
	}
	return raw
}
