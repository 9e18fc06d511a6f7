package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"gorm.io/gorm"
)

// ErrClosed is returned by a Writer after Close.
var ErrClosed = errors.New("db: writer closed")

// maxBatch bounds how many jobs share one transaction, so one commit never
// holds the write lock for long.
const maxBatch = 256

// maxRows bounds the rows of one multi-row INSERT (Insert): 64 rows of a
// token's ten columns stay far below either database's limit on bound
// values, and the statements SQLite prepares per query are the powers of
// two up to it.
const maxRows = 64

// mysqlInserters is how many batches of inserts are in flight at once on
// MySQL: while one waits for its commit, the next gathers the requests
// arriving meanwhile.
const mysqlInserters = 4

// writerMode is how a Writer runs its jobs.
type writerMode int

const (
	// eachAlone runs every job in its own transaction on the pool (a
	// host app's database).
	eachAlone writerMode = iota
	// groupCommit runs every job on one goroutine, the jobs queued
	// together in one transaction (SQLite).
	groupCommit
	// groupInserts runs Insert's jobs in multi-row statements on a few
	// goroutines and every other job alone (MySQL).
	groupInserts
)

// Execer runs one statement of a Writer job and reports the rows it
// changed. Statements are prepared once per query text and reused.
type Execer interface {
	Exec(query string, args ...any) (rowsAffected int64, err error)
}

// Writer runs the small, hot writes (token inserts, refresh rotation) with
// hand-written, prepared SQL.
//
// On SQLite, which has a single writer, it is group commit: one goroutine
// owns the write connection's hot path and runs every job queued while the
// previous transaction committed in one transaction. A job that fails
// before it changed a row (a token already used, a code already redeemed)
// fails alone; one that fails after changing rows, or on a statement error,
// has the batch rolled back and every job of it run again in a transaction
// of its own, so one job's fault never fails or commits another's. (A
// savepoint per job would do the same at three statements and a
// sub-journal per job, on every token.) A caller returns only after the
// transaction holding its job committed. Everything
// else (GORM, migrations, the CLI) writes through the same one-connection
// pool, so nothing in the process waits on SQLite's busy timeout.
//
// On MySQL, whose server commits concurrent transactions in groups itself,
// each job runs in its own transaction on the pool, except Insert's: those
// queued together are sent as one multi-row INSERT, one round trip and one
// commit for the lot (a savepoint per job would cost a round trip each).
//
// On both, the single-row inserts of one query that share a batch are
// written by multi-row INSERTs (Insert), one statement per up to maxRows
// rows; if one fails, its jobs run again each on its own.
type Writer struct {
	pool      *sql.DB
	translate func(error) error // the dialect's errors as GORM's (ErrDuplicatedKey)
	stmts     sync.Map          // query text → *sql.Stmt prepared on pool (nil: not yet)
	pending   atomic.Bool       // stmts holds a query to prepare

	batch   bool         // groupCommit
	multi   sync.Map     // multiKey → the multi-row form of an insert
	mu      sync.RWMutex // closed and sends on jobs and inserts
	shut    bool
	jobs    chan *job // groupCommit: every job
	inserts chan *job // groupInserts: Insert's jobs
	running sync.WaitGroup

	txs   atomic.Int64 // transactions begun
	execs atomic.Int64 // statements run
}

type job struct {
	ctx    context.Context
	fn     func(Execer) error
	insert string     // Insert's query ("": not an insert)
	args   []any      // Insert's arguments
	result chan error // buffered: the writer never blocks on a caller gone
}

type multiKey struct {
	query string
	rows  int
}

func newWriter(g *gorm.DB, pool *sql.DB, mode writerMode) *Writer {
	w := &Writer{pool: pool, batch: mode == groupCommit, translate: func(err error) error { return err }}
	if t, ok := g.Dialector.(gorm.ErrorTranslator); ok {
		w.translate = t.Translate
	}
	switch mode {
	case groupCommit:
		w.jobs = make(chan *job, maxBatch)
		w.running.Go(w.run)
	case groupInserts:
		w.inserts = make(chan *job, maxBatch)
		for range mysqlInserters {
			w.running.Go(w.runInserts)
		}
	}
	return w
}

// WriterOf returns the Writer of g: the group-committing one of a database
// opened with Open, or, for a *gorm.DB opened elsewhere (a host app's own
// database), one that runs each job in its own transaction on g's pool.
func WriterOf(g *gorm.DB) *Writer {
	if p, ok := g.Config.Plugins[poolsName].(*pools); ok {
		return p.writer
	}
	sqlDB, _ := g.DB() // nil without a pool: every job then fails with errNoPool
	return newWriter(g, sqlDB, eachAlone)
}

var errNoPool = errors.New("db: writer: the GORM handle has no *sql.DB pool")

// Do runs fn atomically: all of its statements are committed, or none
// when fn returns an error (which Do returns). Do returns nil only once
// fn's writes are committed. If ctx ends first, Do returns its error and
// fn's writes may or may not be committed; fn is not started after that.
// fn must not keep the Execer, and may run more than once.
func (w *Writer) Do(ctx context.Context, fn func(Execer) error) error {
	if !w.batch {
		return w.alone(ctx, fn)
	}
	return w.send(w.jobs, &job{ctx: ctx, fn: fn, result: make(chan error, 1)})
}

// Insert runs query, an INSERT of one row ending in its VALUES tuple
// ("INSERT INTO t (a, b) VALUES (?, ?)"), as a job of its own (see Do).
// The inserts of one query that share a batch are sent as one multi-row
// INSERT; if that fails (a duplicate key), each of its rows is inserted
// again on its own, so that only the failing caller sees the error.
func (w *Writer) Insert(ctx context.Context, query string, args ...any) error {
	j := &job{ctx: ctx, insert: query, args: args, result: make(chan error, 1)}
	j.fn = func(ex Execer) error { _, err := ex.Exec(query, args...); return err }
	switch {
	case w.batch:
		return w.send(w.jobs, j)
	case w.inserts != nil:
		return w.send(w.inserts, j)
	}
	_, err := w.Exec(ctx, query, args...)
	return err
}

// send queues j on ch and waits for its result.
func (w *Writer) send(ch chan *job, j *job) error {
	w.mu.RLock()
	if w.shut {
		w.mu.RUnlock()
		return ErrClosed
	}
	select {
	case ch <- j:
		w.mu.RUnlock()
	case <-j.ctx.Done():
		w.mu.RUnlock()
		return j.ctx.Err()
	}
	select {
	case err := <-j.result:
		return err
	case <-j.ctx.Done():
		return j.ctx.Err()
	}
}

// Exec runs one statement as a job of its own (see Do) and reports the
// rows it changed.
func (w *Writer) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if !w.batch {
		// A single statement is atomic: no transaction round trips.
		if w.pool == nil {
			return 0, errNoPool
		}
		w.execs.Add(1)
		res, err := w.pool.ExecContext(ctx, query, args...)
		if err != nil {
			return 0, w.translate(err)
		}
		return res.RowsAffected()
	}
	var n int64
	err := w.Do(ctx, func(ex Execer) (err error) {
		n, err = ex.Exec(query, args...)
		return err
	})
	if err != nil {
		return 0, err // n may still be written by a job that outlived ctx
	}
	return n, nil
}

// Close commits the jobs already queued, waits for them and refuses new
// ones. It does not close the pool.
func (w *Writer) Close() {
	w.mu.Lock()
	if !w.shut {
		for _, ch := range []chan *job{w.jobs, w.inserts} {
			if ch != nil {
				close(ch)
			}
		}
	}
	w.shut = true
	w.mu.Unlock()
	w.running.Wait()
	w.stmts.Range(func(_, v any) bool {
		if s := v.(*sql.Stmt); s != nil {
			_ = s.Close()
		}
		return true
	})
}

func (w *Writer) run() {
	batch := make([]*job, 0, maxBatch)
	for j := range w.jobs {
		batch = gather(w.jobs, append(batch[:0], j))
		w.commit(batch)
		clear(batch) // let the callers' contexts go
		w.preparePending()
	}
}

// gather adds to batch the jobs queued behind its first. The caller that
// queued that first job woke this goroutine directly, so on one core it
// runs before the other request goroutines already runnable have queued
// theirs: taking only what is queued now would commit batches of one under
// load. So it yields and takes what arrived meanwhile, again until a yield
// brings nothing. At low load that costs one yield, never a sleep.
func gather(jobs <-chan *job, batch []*job) []*job {
	for len(batch) < maxBatch {
		runtime.Gosched()
		n := len(batch)
	drain:
		for len(batch) < maxBatch {
			select {
			case j, ok := <-jobs:
				if !ok {
					return batch // closed: run ends after this batch
				}
				batch = append(batch, j)
			default:
				break drain
			}
		}
		if len(batch) == n {
			break
		}
	}
	return batch
}

// commit runs batch in one transaction. If the transaction itself fails
// (not a job), each job still waiting is run again on its own, so that one
// job's fault cannot fail the others.
func (w *Writer) commit(batch []*job) {
	live := liveJobs(batch)
	switch len(live) {
	case 0:
		return
	case 1:
		live[0].result <- w.alone(live[0].ctx, live[0].fn)
		return
	}
	// The transaction is shared, so no caller's context may abort it.
	ctx := context.Background()
	errs := make([]error, len(live))
	err := w.inTx(ctx, func(tx *sql.Tx) error {
		ex := &execer{ctx: ctx, w: w, tx: tx}
		err := w.eachInsert(live, func(_ []*job, query string, args []any) error {
			_, err := ex.Exec(query, args...)
			return err
		})
		if err != nil {
			return fmt.Errorf("%w: %w", errTxBroken, err) // every job again on its own
		}
		for i, j := range live {
			if j.insert != "" {
				continue
			}
			if errs[i] = w.inBatch(ctx, tx, j.fn); errors.Is(errs[i], errTxBroken) {
				return errs[i]
			}
		}
		return nil
	})
	for i, j := range live {
		switch {
		case err == nil:
			j.result <- errs[i]
		case errs[i] != nil && !errors.Is(errs[i], errTxBroken):
			j.result <- errs[i] // its own failure stands
		default:
			j.result <- w.alone(j.ctx, j.fn)
		}
	}
}

// liveJobs returns the jobs of batch whose callers still wait, and tells
// the others their context's error: nothing is written for a caller gone.
func liveJobs(batch []*job) []*job {
	live := batch[:0:0]
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.result <- err
			continue
		}
		live = append(live, j)
	}
	return live
}

// runInserts is one of MySQL's insert goroutines: it takes the inserts
// queued together and writes each chunk of them as one multi-row INSERT,
// committed on its own (autocommit: a statement is atomic). A chunk that
// fails has its jobs run again each on its own.
func (w *Writer) runInserts() {
	batch := make([]*job, 0, maxBatch)
	for j := range w.inserts {
		batch = gather(w.inserts, append(batch[:0], j))
		live := liveJobs(batch)
		_ = w.eachInsert(live, func(chunk []*job, query string, args []any) error {
			if len(chunk) == 1 {
				_, err := w.Exec(chunk[0].ctx, query, args...)
				chunk[0].result <- err
				return nil
			}
			w.execs.Add(1)
			_, err := w.pool.ExecContext(context.Background(), query, args...)
			for _, j := range chunk {
				if err != nil {
					_, jerr := w.Exec(j.ctx, j.insert, j.args...)
					j.result <- jerr
				} else {
					j.result <- nil
				}
			}
			return nil
		})
		clear(batch)
	}
}

// eachInsert calls fn for the insert jobs of batch (the others are left
// alone), grouped by query into multi-row statements of at most maxRows
// rows: the rows of chunk, in one query with their arguments in order. It
// stops at fn's first error.
func (w *Writer) eachInsert(batch []*job, fn func(chunk []*job, query string, args []any) error) error {
	var groups [][]*job // by query, in the order first queued
	for _, j := range batch {
		if j.insert == "" {
			continue
		}
		i := 0
		for i < len(groups) && groups[i][0].insert != j.insert {
			i++
		}
		if i == len(groups) {
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], j)
	}
	var args []any
	for _, g := range groups {
		for len(g) > 0 {
			n := min(len(g), maxRows)
			if w.batch {
				// A power of two, so that SQLite prepares few distinct
				// statements (MySQL's are not prepared: one round trip
				// for the lot).
				n = 1 << (bits.Len(uint(n)) - 1)
			}
			chunk := g[:n]
			args = args[:0]
			for _, j := range chunk {
				args = append(args, j.args...)
			}
			if err := fn(chunk, w.multiRow(chunk[0].insert, n), args); err != nil {
				return err
			}
			g = g[n:]
		}
	}
	return nil
}

// multiRow returns insert with its VALUES tuple repeated for rows rows.
//
// On SQLite it is INSERT OR ROLLBACK: a statement that changes several rows
// and may fail on a constraint halfway otherwise keeps a statement journal,
// a copy of every page it touches (to undo just itself), which cost more
// than the rows saved. A failing multi-row insert breaks its batch anyway,
// so ending the whole transaction there changes nothing.
func (w *Writer) multiRow(insert string, rows int) string {
	if rows == 1 {
		return insert
	}
	k := multiKey{insert, rows}
	if q, ok := w.multi.Load(k); ok {
		return q.(string)
	}
	tuple := insert[strings.LastIndex(insert, "VALUES ")+len("VALUES "):]
	q := insert + strings.Repeat(", "+tuple, rows-1)
	if w.batch {
		q = "INSERT OR ROLLBACK" + strings.TrimPrefix(q, "INSERT")
	}
	w.multi.Store(k, q)
	return q
}

// errTxBroken marks a job whose failure cannot be undone alone: the batch
// is rolled back and run again job by job.
var errTxBroken = errors.New("db: writer transaction broken")

// inBatch runs fn in the shared transaction tx. Its failure is its own only
// when it changed nothing: every statement succeeded and changed no row.
// After a statement error SQLite may have rolled back more than the
// statement (a full disk, an I/O error), so that breaks the batch too.
func (w *Writer) inBatch(ctx context.Context, tx *sql.Tx, fn func(Execer) error) error {
	ex := &execer{ctx: ctx, w: w, tx: tx}
	err := fn(ex)
	if err != nil && (ex.changed || ex.failed) {
		return fmt.Errorf("%w: %w", errTxBroken, err)
	}
	return err
}

// alone runs fn in a transaction of its own.
func (w *Writer) alone(ctx context.Context, fn func(Execer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return w.inTx(ctx, func(tx *sql.Tx) error { return fn(&execer{ctx: ctx, w: w, tx: tx}) })
}

func (w *Writer) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if w.pool == nil {
		return errNoPool
	}
	w.txs.Add(1)
	tx, err := w.pool.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: writer: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: writer: commit: %w", err)
	}
	return nil
}

// prepared returns query's statement prepared on the pool, or nil when it
// is not prepared yet: then it is marked to be prepared once the
// connection is free again (preparePending), since the one SQLite write
// connection is held by the transaction asking. On MySQL, whose driver
// interpolates arguments client-side, a prepared statement would cost
// round trips on each new pool connection, so none are kept.
func (w *Writer) prepared(query string) *sql.Stmt {
	if !w.batch {
		return nil
	}
	v, loaded := w.stmts.LoadOrStore(query, (*sql.Stmt)(nil))
	if !loaded {
		w.pending.Store(true)
	}
	return v.(*sql.Stmt)
}

// preparePending prepares the statements marked by prepared. It runs on
// the writer's goroutine, between transactions.
func (w *Writer) preparePending() {
	if !w.pending.Swap(false) {
		return
	}
	w.stmts.Range(func(k, v any) bool {
		if v.(*sql.Stmt) != nil {
			return true
		}
		s, err := w.pool.PrepareContext(context.Background(), k.(string))
		if err != nil {
			w.stmts.Delete(k) // tried again on next use
			return true
		}
		w.stmts.Store(k, s)
		return true
	})
}

type execer struct {
	ctx     context.Context
	w       *Writer
	tx      *sql.Tx
	changed bool // a statement changed rows
	failed  bool // a statement failed
}

func (e *execer) Exec(query string, args ...any) (int64, error) {
	e.w.execs.Add(1)
	var res sql.Result
	var err error
	if s := e.w.prepared(query); s != nil {
		res, err = e.tx.StmtContext(e.ctx, s).ExecContext(e.ctx, args...)
	} else {
		res, err = e.tx.ExecContext(e.ctx, query, args...)
	}
	if err != nil {
		e.failed = true
		return 0, e.w.translate(err)
	}
	n, err := res.RowsAffected()
	e.changed = e.changed || n != 0 || err != nil
	return n, err
}
