package db

import (
	"database/sql"
	"fmt"
	"net/url"
	"runtime"

	gormsqlite "github.com/libtnb/sqlite"
	"gorm.io/gorm"
	"modernc.org/sqlite"
)

// MinSQLiteVersion is the oldest embedded SQLite Latchkey accepts. Earlier
// releases can corrupt a WAL database when a checkpoint races concurrent
// writers in one process (the WAL-reset bug fixed in 3.51.3), which is
// exactly how Latchkey runs: many request goroutines writing through one pool
// while SQLite checkpoints.
const MinSQLiteVersion = "3.51.3"

// sqlitePools opens path through modernc.org/sqlite's Connector rather
// than sql.Open. The only database/sql name in play is the "sqlite" that
// modernc.org/sqlite registers for itself, once per process however many
// packages import it; Latchkey registers no name of its own and looks none
// up, so the plugin mounts in a host app that already uses modernc.org/sqlite.
// (A host linking a fork that registers "sqlite" too, like the earlier
// github.com/glebarez/go-sqlite, clashes with modernc.org/sqlite itself.)
//
// It returns the dialector on the write pool and the read pool. SQLite
// has one writer at a time, so the write pool has one connection: writers
// queue in Go, in order and cancellable, rather than on busy_timeout, and
// the Writer batches them. Readers have connections of their own that
// cannot write (query_only), so a write sent to them fails loudly; under WAL
// they never wait for the writer.
//
// Importing the dialector also switches on, process-wide, modernc.org/sqlite's
// StrictPragmas (a _pragma value holds one statement), OFD locks (a close of
// any descriptor of the file elsewhere in the process no longer drops
// SQLite's locks) and fdatasync; all are safe for a host's own databases.
func sqlitePools(path string) (gorm.Dialector, *sql.DB, error) {
	wc, err := sqlite.NewConnector(SQLiteDSN(path))
	if err != nil {
		return nil, nil, fmt.Errorf("db: sqlite: %w", err)
	}
	write := sql.OpenDB(wc)
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	dial := gormsqlite.New(gormsqlite.Config{Conn: write})
	if path == ":memory:" {
		return dial, nil, nil
	}
	rc, err := sqlite.NewConnector(sqliteReadDSN(path))
	if err != nil {
		_ = write.Close()
		return nil, nil, fmt.Errorf("db: sqlite: %w", err)
	}
	read := sql.OpenDB(rc)
	n := max(4, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	return dial, read, nil
}

// SQLiteDSN adds the parameters Latchkey's write connection relies on: a
// busy timeout so it queues behind another process (the CLI) instead of
// failing, WAL so readers never wait for the writer, foreign keys, and
// IMMEDIATE transactions so a read-then-write transaction takes the write
// lock at BEGIN and never dead-ends on a lock upgrade.
//
// Times are written as "2006-01-02 15:04:05.999999999-07:00" text, the format
// the earlier driver (github.com/glebarez/sqlite) used, converted to UTC on
// the way in and out: stored times then sort and compare as text, old rows
// and new alike, and read back in UTC whatever the host's local zone.
func SQLiteDSN(path string) string { return path + "?" + sqliteParams(false).Encode() }

// sqliteReadDSN is SQLiteDSN for the read connections: query_only (set
// last, after journal_mode, which a query-only connection cannot issue) and
// deferred transactions, which take no write lock.
func sqliteReadDSN(path string) string { return path + "?" + sqliteParams(true).Encode() }

func sqliteParams(readOnly bool) url.Values {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	if !readOnly {
		// Checkpoint every 4,000 WAL pages (about 16 MiB) rather than
		// SQLite's 1,000: the token tables' hot index pages are written
		// again by every commit, and a checkpoint copies each distinct page
		// once, so fewer, larger checkpoints copy and fsync less per token
		// (about a sixth of the client-credentials write's CPU).
		q.Add("_pragma", "wal_autocheckpoint(4000)")
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
		q.Set("_txlock", "deferred")
	}
	q.Set("_time_format", "sqlite")
	q.Set("_timezone", "UTC")
	return q
}
