package dbtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/latchkeyid/latchkey/provider/db"
)

// Recorder is a GORM logger that keeps every statement that ran without
// error, once each, with its values inlined, so that a test can EXPLAIN
// the statements a code path really sends. Install it with
// g.Session(&gorm.Session{Logger: rec}).
type Recorder struct {
	logger.Interface
	mu   sync.Mutex
	sqls []string
}

// NewRecorder returns a Recorder that logs nothing itself.
func NewRecorder() *Recorder { return &Recorder{Interface: logger.Discard} }

// LogMode keeps the recorder whatever the level.
func (r *Recorder) LogMode(logger.LogLevel) logger.Interface { return r }

// Trace records the statement.
func (r *Recorder) Trace(_ context.Context, _ time.Time, fc func() (string, int64), err error) {
	if err != nil {
		return
	}
	q, _ := fc()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.sqls, q) {
		r.sqls = append(r.sqls, q)
	}
}

// SQL returns the statements recorded so far, in the order first run.
func (r *Recorder) SQL() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sqls)
}

// Reset forgets what was recorded.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sqls = nil
}

// PlanRow is one row of a query plan: on SQLite the detail of EXPLAIN
// QUERY PLAN ("SEARCH users USING INDEX ..."), on MySQL the columns of
// EXPLAIN by name (table, type, key, Extra, ...), as text.
type PlanRow struct {
	Detail string
	Cols   map[string]string
}

// Explain returns the plan of q on g's database.
func Explain(t testing.TB, g *gorm.DB, q string) []PlanRow {
	t.Helper()
	if g.Dialector.Name() == db.SQLite {
		var plan []struct {
			ID, Parent, Notused int
			Detail              string
		}
		if err := g.Raw("EXPLAIN QUERY PLAN " + q).Scan(&plan).Error; err != nil {
			t.Fatalf("explain %s: %v", q, err)
		}
		out := make([]PlanRow, len(plan))
		for i, p := range plan {
			out[i].Detail = p.Detail
		}
		return out
	}
	rows, err := g.Raw("EXPLAIN " + q).Rows()
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []PlanRow
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := PlanRow{Cols: map[string]string{}}
		for i, c := range cols {
			if b, ok := vals[i].([]byte); ok {
				row.Cols[c] = string(b)
			} else if vals[i] != nil {
				row.Cols[c] = fmt.Sprint(vals[i])
			}
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
