package db

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"
)

// Retries counts transactions rerun after a conflict, by operation. A
// Galera cluster reports a write that lost certification against another
// node's commit as a deadlock, so on a cluster this counts cross-node
// races; on one server it counts InnoDB deadlock victims and lock waits.
var Retries = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "latchkey_db_retries_total",
	Help: "Database transactions rerun after a deadlock, lock-wait timeout or a Galera node not ready, by operation.",
}, []string{"op"})

// MaxAttempts bounds the reruns: a conflict that persists this long is a
// fault to report, not a race to wait out.
const MaxAttempts = 6

// Conflict reports an error after which the transaction had no effect and
// may simply run again: a deadlock victim or a Galera certification
// failure (1213), a lock-wait timeout (1205), or a Galera node that is
// joining or desynced (1047, "WSREP has not yet prepared node").
func Conflict(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205 || me.Number == 1047)
}

// Retry runs fn, and runs it again after a jittered, growing pause while it
// fails with a Conflict, at most MaxAttempts times in all. fn must be safe
// to rerun: the failed attempt's writes were rolled back, so it must read
// again whatever it decides on rather than reuse values from the attempt
// before.
func Retry(ctx context.Context, op string, fn func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		if err = fn(); !Conflict(err) || attempt == MaxAttempts {
			return err
		}
		Retries.WithLabelValues(op).Inc()
		slog.DebugContext(ctx, "db: conflict, running the transaction again", "op", op, "attempt", attempt, "err", err)
		// Full jitter over 2, 4, 8 ... ms, so racers part instead of
		// colliding again in step.
		pause := time.Duration(rand.Int64N(int64(time.Millisecond) << attempt)) // #nosec G404 -- jitter, not a secret
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

// Transact runs fn in one transaction on g, rerun whole under Retry. On a
// g that is itself a transaction, fn runs once (nested, as a savepoint):
// a conflict has rolled back the outer transaction, which its own
// Transact reruns.
func Transact(ctx context.Context, g *gorm.DB, op string, fn func(tx *gorm.DB) error) error {
	if inTx(g) {
		return g.WithContext(ctx).Transaction(fn)
	}
	return Retry(ctx, op, func() error { return g.WithContext(ctx).Transaction(fn) })
}

// RetryStmt is Retry for a statement on g that may be a transaction: there
// it runs once, since rerunning one statement after the server rolled back
// the rest of its transaction would commit it alone.
func RetryStmt(ctx context.Context, g *gorm.DB, op string, fn func(g *gorm.DB) error) error {
	if inTx(g) {
		return fn(g)
	}
	return Retry(ctx, op, func() error { return fn(g) })
}

func inTx(g *gorm.DB) bool {
	_, ok := g.Statement.ConnPool.(gorm.TxCommitter)
	return ok
}
