package db

import (
	"database/sql"
	"fmt"
	"net/url"

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

// sqliteDialector opens path through modernc.org/sqlite's Connector rather
// than sql.Open. The only database/sql name in play is the "sqlite" that
// modernc.org/sqlite registers for itself, once per process however many
// packages import it; Latchkey registers no name of its own and looks none
// up, so the plugin mounts in a host app that already uses modernc.org/sqlite.
// (A host linking a fork that registers "sqlite" too, like the earlier
// github.com/glebarez/go-sqlite, clashes with modernc.org/sqlite itself.)
//
// Importing the dialector also switches on, process-wide, modernc.org/sqlite's
// StrictPragmas (a _pragma value holds one statement), OFD locks (a close of
// any descriptor of the file elsewhere in the process no longer drops
// SQLite's locks) and fdatasync; all are safe for a host's own databases.
func sqliteDialector(path string) (gorm.Dialector, *sql.DB, error) {
	c, err := sqlite.NewConnector(SQLiteDSN(path))
	if err != nil {
		return nil, nil, fmt.Errorf("db: sqlite: %w", err)
	}
	pool := sql.OpenDB(c)
	return gormsqlite.New(gormsqlite.Config{Conn: pool}), pool, nil
}

// SQLiteDSN adds the parameters Latchkey relies on: a busy timeout so writers
// queue instead of failing, WAL so readers never wait for the writer, foreign
// keys, and IMMEDIATE transactions so a read-then-write transaction never
// dead-ends on a lock upgrade.
//
// Times are written as "2006-01-02 15:04:05.999999999-07:00" text, the format
// the earlier driver (github.com/glebarez/sqlite) used, converted to UTC on
// the way in and out: stored times then sort and compare as text, old rows
// and new alike, and read back in UTC whatever the host's local zone.
func SQLiteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	q.Set("_timezone", "UTC")
	return path + "?" + q.Encode()
}
