package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// immediatePool makes every SQLite write transaction BEGIN IMMEDIATE.
//
// Why not the DSN's _txlock=immediate: github.com/glebarez/go-sqlite
// v1.21.2 stops reading query parameters after _time_format (its
// applyQueryParams returns early), so _txlock was silently ignored and
// transactions were DEFERRED. A deferred transaction that reads and then
// writes while another connection writes fails at once with SQLITE_BUSY,
// busy_timeout or not (the lock upgrade would deadlock, so SQLite refuses
// it); found by TestMigrateConcurrently, where two instances migrating one
// file got "database is locked". Taking the write lock at BEGIN makes
// writers queue on busy_timeout instead.
type immediatePool struct{ *sql.DB }

var (
	_ gorm.ConnPoolBeginner = immediatePool{}
	_ gorm.GetDBConnector   = immediatePool{}
)

// GetDBConn lets (*gorm.DB).DB() find the pool.
func (p immediatePool) GetDBConn() (*sql.DB, error) { return p.DB, nil }

// BeginTx pins one connection and starts the transaction on it.
// Read-only transactions stay DEFERRED: they never take the write lock.
func (p immediatePool) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	conn, err := p.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	begin := "BEGIN IMMEDIATE"
	if opts != nil && opts.ReadOnly {
		begin = "BEGIN"
	}
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return &immediateTx{Conn: conn, db: p.DB}, nil
}

// immediateTx is a transaction on one pinned connection; gorm runs its
// statements through the embedded *sql.Conn.
type immediateTx struct {
	*sql.Conn
	db   *sql.DB
	done bool
}

var (
	_ gorm.TxCommitter    = (*immediateTx)(nil)
	_ gorm.GetDBConnector = (*immediateTx)(nil)
)

func (t *immediateTx) GetDBConn() (*sql.DB, error) { return t.db, nil }

// Commit ends the transaction. If COMMIT fails the transaction is rolled
// back, so the connection never returns to the pool mid-transaction.
func (t *immediateTx) Commit() error {
	if t.done {
		return sql.ErrTxDone
	}
	_, err := t.ExecContext(context.Background(), "COMMIT")
	if err != nil {
		return errors.Join(fmt.Errorf("commit: %w", err), t.finish(true))
	}
	return t.finish(false)
}

// Rollback ends the transaction without applying it.
func (t *immediateTx) Rollback() error {
	if t.done {
		return sql.ErrTxDone
	}
	return t.finish(true)
}

func (t *immediateTx) finish(rollback bool) error {
	t.done = true
	var err error
	if rollback {
		if _, err = t.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			// State unknown: make database/sql discard the connection.
			_ = t.Raw(func(any) error { return driver.ErrBadConn })
		}
	}
	return errors.Join(err, t.Close())
}
