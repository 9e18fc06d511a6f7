package db_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

const insertRow = "INSERT INTO writer_rows (id, batch) VALUES (?, ?)"

func writerDB(t *testing.T, url string) *gorm.DB {
	t.Helper()
	g := dbtest.Open(t, url)
	if err := g.Exec("CREATE TABLE writer_rows (id VARCHAR(64) PRIMARY KEY, batch INTEGER NOT NULL)").Error; err != nil {
		t.Fatal(err)
	}
	return g
}

func rowIDs(t *testing.T, g *gorm.DB) map[string]bool {
	t.Helper()
	var ids []string
	if err := g.Raw("SELECT id FROM writer_rows").Scan(&ids).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, id := range ids {
		out[id] = true
	}
	return out
}

// hold keeps w's goroutine busy in a job until the returned release is
// called, so that the jobs queued meanwhile share the next transaction.
func hold(t *testing.T, w *db.Writer) (release func()) {
	t.Helper()
	started, stop := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- w.Do(context.Background(), func(db.Execer) error {
			close(started)
			<-stop
			return nil
		})
	}()
	<-started
	return func() {
		close(stop)
		if err := <-done; err != nil {
			t.Errorf("holding job: %v", err)
		}
	}
}

// waitQueued waits until n jobs are queued behind hold.
func waitQueued(w *db.Writer, n int) {
	for db.Queued(w) < n {
		runtime.Gosched()
	}
}

// Many concurrent writers: every one is told nil only for a row that is
// committed, and every row is there, also for a fresh connection.
func TestWriterParallel(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		g := writerDB(t, url)
		w := db.WriterOf(g)
		const n = 200
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { _, errs[i] = w.Exec(t.Context(), insertRow, fmt.Sprint("row-", i), i) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("writer %d: %v", i, err)
			}
		}
		db.Close(g)
		g2 := dbtest.Open(t, url)
		if got := len(rowIDs(t, g2)); got != n {
			t.Fatalf("%d rows committed, want %d", got, n)
		}
	})
}

// In one batch, a job that fails (a duplicate key, or its own error after
// writing) fails alone: its writes are undone, the others are committed.
func TestWriterFailedJobFailsOnlyItsCaller(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		g := writerDB(t, url)
		w := db.WriterOf(g)
		if _, err := w.Exec(t.Context(), insertRow, "taken", 0); err != nil {
			t.Fatal(err)
		}
		batched := g.Dialector.Name() == db.SQLite
		release := func() {}
		if batched {
			release = hold(t, w)
		}
		errOwn := errors.New("job's own failure")
		jobs := []struct {
			name string
			fn   func(db.Execer) error
			want error
		}{
			{"ok-1", func(ex db.Execer) error { _, err := ex.Exec(insertRow, "ok-1", 1); return err }, nil},
			{"duplicate", func(ex db.Execer) error { _, err := ex.Exec(insertRow, "taken", 1); return err }, gorm.ErrDuplicatedKey},
			{"own error after a write", func(ex db.Execer) error {
				if _, err := ex.Exec(insertRow, "undone", 1); err != nil {
					return err
				}
				return errOwn
			}, errOwn},
			{"ok-2", func(ex db.Execer) error { _, err := ex.Exec(insertRow, "ok-2", 1); return err }, nil},
		}
		var wg sync.WaitGroup
		errs := make([]error, len(jobs))
		for i, j := range jobs {
			wg.Go(func() { errs[i] = w.Do(t.Context(), j.fn) })
			if batched {
				waitQueued(w, i+1) // in this order, in one batch
			}
		}
		release()
		wg.Wait()
		for i, j := range jobs {
			if !errors.Is(errs[i], j.want) || (j.want == nil) != (errs[i] == nil) {
				t.Errorf("%s: err = %v, want %v", j.name, errs[i], j.want)
			}
		}
		got := rowIDs(t, g)
		for id, want := range map[string]bool{"taken": true, "ok-1": true, "ok-2": true, "undone": false} {
			if got[id] != want {
				t.Errorf("row %s present = %v, want %v", id, got[id], want)
			}
		}
	})
}

// A job that fails having changed nothing (a token already used) fails
// alone without breaking its batch: the others commit in the same one
// transaction, so a stream of replayed tokens cannot make every honest
// request run twice.
func TestWriterFailureWithoutChangesKeepsTheBatch(t *testing.T) {
	g := writerDB(t, dbtest.URL(t, dbtest.SQLite))
	w := db.WriterOf(g)
	release := hold(t, w)
	before := db.Transactions(w)
	errUsed := errors.New("already used")
	jobs := []struct {
		name string
		fn   func(db.Execer) error
		want error
	}{
		{"ok-1", func(ex db.Execer) error { _, err := ex.Exec(insertRow, "ok-1", 1); return err }, nil},
		{"changed nothing", func(ex db.Execer) error {
			n, err := ex.Exec("UPDATE writer_rows SET batch = 2 WHERE id = ?", "absent")
			if err != nil || n != 0 {
				return fmt.Errorf("update: %d rows, %v", n, err)
			}
			return errUsed
		}, errUsed},
		{"ok-2", func(ex db.Execer) error { _, err := ex.Exec(insertRow, "ok-2", 1); return err }, nil},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		wg.Go(func() { errs[i] = w.Do(t.Context(), j.fn) })
		waitQueued(w, i+1)
	}
	release()
	wg.Wait()
	for i, j := range jobs {
		if !errors.Is(errs[i], j.want) || (j.want == nil) != (errs[i] == nil) {
			t.Errorf("%s: err = %v, want %v", j.name, errs[i], j.want)
		}
	}
	if got := db.Transactions(w) - before; got != 1 {
		t.Errorf("the batch took %d transactions, want 1", got)
	}
	if got := rowIDs(t, g); !got["ok-1"] || !got["ok-2"] {
		t.Errorf("rows = %v, want ok-1 and ok-2", got)
	}
}

// A caller whose context ends while its job waits gets the context's
// error at once, and its job is not run.
func TestWriterCancellation(t *testing.T) {
	g := writerDB(t, dbtest.URL(t, dbtest.SQLite))
	w := db.WriterOf(g)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := w.Exec(ctx, insertRow, "cancelled-before", 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}

	release := hold(t, w)
	ctx, cancel = context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := w.Exec(ctx, insertRow, "cancelled-queued", 1); done <- err }()
	waitQueued(w, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) { // returns while the writer is still held
		t.Errorf("cancelled while queued: err = %v", err)
	}
	release()
	if _, err := w.Exec(t.Context(), insertRow, "after", 1); err != nil {
		t.Fatal(err)
	}
	got := rowIDs(t, g)
	if got["cancelled-before"] || got["cancelled-queued"] || !got["after"] {
		t.Errorf("rows = %v, want only after", got)
	}
}

// Close commits every job already queued before it returns, and refuses
// new ones; nothing acknowledged is lost.
func TestWriterCloseFlushes(t *testing.T) {
	url := dbtest.URL(t, dbtest.SQLite)
	g := writerDB(t, url)
	w := db.WriterOf(g)
	release := hold(t, w)
	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = w.Exec(context.Background(), insertRow, fmt.Sprint("row-", i), i) })
	}
	waitQueued(w, n)
	closed := make(chan struct{})
	go func() { db.Close(g); close(closed) }()
	release()
	wg.Wait()
	<-closed
	for i, err := range errs {
		if err != nil {
			t.Errorf("queued writer %d: %v", i, err)
		}
	}
	if _, err := w.Exec(context.Background(), insertRow, "late", 0); !errors.Is(err, db.ErrClosed) {
		t.Errorf("after Close: err = %v, want ErrClosed", err)
	}
	if got := len(rowIDs(t, dbtest.Open(t, url))); got != n {
		t.Errorf("%d rows after Close, want %d", got, n)
	}
}

// On one core, jobs sent together share transactions: the writer's
// goroutine is woken by the first caller before the others have run, and
// must let them queue before it commits, not commit a batch of one each.
func TestWriterBatchesOnOneCore(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, n := range []int{1, 2, 64, 600} {
		t.Run(fmt.Sprint(n, " callers"), func(t *testing.T) {
			g := writerDB(t, dbtest.URL(t, dbtest.SQLite))
			w := db.WriterOf(g)
			before := db.Transactions(w)
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() { _, errs[i] = w.Exec(t.Context(), insertRow, fmt.Sprint("row-", i), i) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			// Every caller's goroutine was runnable when the first job
			// arrived, so one transaction per 256 (the batch bound) and
			// at most one more for the first.
			if got, most := db.Transactions(w)-before, int64(n/256+2); got > most {
				t.Errorf("%d jobs took %d transactions, want at most %d", n, got, most)
			}
			if got := len(rowIDs(t, g)); got != n {
				t.Errorf("%d rows committed, want %d", got, n)
			}
		})
	}
}

// Readers see a batch whole or not at all: every job writes a pair of
// rows, so a reader never counts an odd number.
func TestWriterReadersSeeWholeBatches(t *testing.T) {
	g := writerDB(t, dbtest.URL(t, dbtest.SQLite))
	w := db.WriterOf(g)
	ctx, cancel := context.WithCancel(t.Context())
	var writers sync.WaitGroup
	for i := range 16 {
		writers.Go(func() {
			for k := 0; ctx.Err() == nil; k++ {
				err := w.Do(ctx, func(ex db.Execer) error {
					for _, half := range []string{"a", "b"} {
						if _, err := ex.Exec(insertRow, fmt.Sprintf("%d-%d-%s", i, k, half), k); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil && ctx.Err() == nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 300 {
		var n int64
		if err := g.Raw("SELECT COUNT(*) FROM writer_rows").Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n%2 != 0 {
			t.Fatalf("a reader saw %d rows: half a job", n)
		}
	}
	cancel()
	writers.Wait()
}

// A process killed in the middle of writing loses no write it had
// acknowledged: the child prints each row id once Exec returned nil, the
// parent kills it and finds every printed row.
func TestWriterCrashLosesNoAcknowledgedRow(t *testing.T) {
	if path := os.Getenv("LATCHKEY_WRITER_CRASH_DB"); path != "" {
		crashChild(path)
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "latchkey.db")
	g := writerDB(t, "sqlite://"+path)
	db.Close(g)

	cmd := exec.Command(os.Args[0], "-test.run", "^TestWriterCrashLosesNoAcknowledgedRow$") // #nosec G204 -- this test binary
	cmd.Env = append(os.Environ(), "LATCHKEY_WRITER_CRASH_DB="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 2000 {
		if id, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked[id] = true
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if len(acked) < 2000 {
		t.Fatalf("child acknowledged only %d rows before it stopped", len(acked))
	}
	got := rowIDs(t, dbtest.Open(t, "sqlite://"+path))
	for id := range acked {
		if !got[id] {
			t.Fatalf("acknowledged row %s lost in the crash (%d of %d acknowledged rows present)", id, len(got), len(acked))
		}
	}
}

// crashChild writes from 32 goroutines until it is killed.
func crashChild(path string) {
	ctx := context.Background()
	g, err := db.Open(ctx, "sqlite://"+path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	w := db.WriterOf(g)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			for k := 0; ; k++ {
				id := fmt.Sprintf("%d-%d", i, k)
				if _, err := w.Exec(ctx, insertRow, id, k); err != nil {
					fmt.Println("error:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Println("acked", id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// Inserts sent together are written as multi-row INSERTs: far fewer
// statements than rows on both databases (on MySQL too, where the other
// jobs run alone), and every row is committed.
func TestWriterInsertsShareStatements(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	dbtest.Each(t, func(t *testing.T, url string) {
		for _, n := range []int{1, 64, 600} {
			t.Run(fmt.Sprint(n, " callers"), func(t *testing.T) {
				g := writerDB(t, url)
				w := db.WriterOf(g)
				before := db.Statements(w)
				var wg sync.WaitGroup
				errs := make([]error, n)
				for i := range n {
					wg.Go(func() { errs[i] = w.Insert(t.Context(), insertRow, fmt.Sprint("row-", i), i) })
				}
				wg.Wait()
				if err := errors.Join(errs...); err != nil {
					t.Fatal(err)
				}
				// A row each would be n statements; a batch of up to
				// 256 takes at most 8 (the powers of two of at most 64
				// rows that add up to it).
				if got, most := db.Statements(w)-before, int64(max(1, n/4)); got > most {
					t.Errorf("%d inserts took %d statements, want at most %d", n, got, most)
				}
				if got := len(rowIDs(t, g)); got != n {
					t.Errorf("%d rows committed, want %d", got, n)
				}
				if err := g.Exec("DROP TABLE writer_rows").Error; err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}

// A multi-row INSERT that fails on one row (a duplicate key) fails only
// that caller: every other row of it is inserted again on its own.
func TestWriterInsertDuplicateFailsAlone(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	dbtest.Each(t, func(t *testing.T, url string) {
		g := writerDB(t, url)
		w := db.WriterOf(g)
		if err := w.Insert(t.Context(), insertRow, "taken", 0); err != nil {
			t.Fatal(err)
		}
		batched := g.Dialector.Name() == db.SQLite
		release := func() {}
		if batched {
			release = hold(t, w) // the inserts below share one batch
		}
		ids := []string{"ok-1", "taken", "ok-2", "ok-3", "ok-4", "ok-5", "ok-6", "ok-7"}
		var wg sync.WaitGroup
		errs := make([]error, len(ids))
		for i, id := range ids {
			wg.Go(func() { errs[i] = w.Insert(t.Context(), insertRow, id, 1) })
			if batched {
				waitQueued(w, i+1)
			}
		}
		release()
		wg.Wait()
		for i, id := range ids {
			if want := id == "taken"; want != errors.Is(errs[i], gorm.ErrDuplicatedKey) || !want && errs[i] != nil {
				t.Errorf("%s: err = %v", id, errs[i])
			}
		}
		got := rowIDs(t, g)
		for _, id := range ids {
			if !got[id] {
				t.Errorf("row %s missing", id)
			}
		}
		if len(got) != len(ids) {
			t.Errorf("rows = %v, want %v", got, ids)
		}
	})
}
