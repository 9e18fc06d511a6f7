package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
)

// onGalera reports whether conn's server is a Galera cluster node.
func onGalera(ctx context.Context, conn *sql.Conn) (bool, error) {
	var name, on string
	switch err := conn.QueryRowContext(ctx, "SHOW GLOBAL VARIABLES LIKE 'wsrep_on'").Scan(&name, &on); {
	case errors.Is(err, sql.ErrNoRows): // MySQL
		return false, nil
	case err != nil:
		return false, err
	}
	return on == "ON", nil
}

// clusterLockTTL frees a lock whose holder died (in SQL, ten minutes); a
// migration takes seconds.
const clusterLockTTL = "INTERVAL 10 MINUTE"

// clusterLock takes a named lock that every node of a Galera cluster sees.
// GET_LOCK is local to one node there, so instances started together on
// different nodes would all migrate at once. The lock is a row: of racing
// INSERTs of one name, Galera's certification lets exactly one commit
// cluster-wide, and the others fail (deadlock or duplicate key) and wait.
func clusterLock(ctx context.Context, conn *sql.Conn, name string, wait time.Duration) (release func(), err error) {
	if _, err := conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS latchkey_locks ("+
		"name VARCHAR(190) NOT NULL PRIMARY KEY, expires_at DATETIME(6) NOT NULL) ENGINE=InnoDB"); err != nil {
		return nil, fmt.Errorf("db: migrate lock: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		// A lock left by a holder that died is taken over once it expires.
		_, _ = conn.ExecContext(ctx, "DELETE FROM latchkey_locks WHERE name = ? AND expires_at < UTC_TIMESTAMP(6)", name)
		_, err := conn.ExecContext(ctx, "INSERT INTO latchkey_locks (name, expires_at) VALUES (?, UTC_TIMESTAMP(6) + "+clusterLockTTL+")", name)
		if err == nil {
			return func() {
				_, _ = conn.ExecContext(context.WithoutCancel(ctx), "DELETE FROM latchkey_locks WHERE name = ?", name)
			}, nil
		}
		var me *gomysql.MySQLError
		if !Conflict(err) && !(errors.As(err, &me) && me.Number == 1062) {
			return nil, fmt.Errorf("db: migrate lock: %w", err)
		}
		if time.Now().After(deadline) {
			return nil, ErrLockTimeout
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
