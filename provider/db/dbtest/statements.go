package dbtest

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"
)

// Statements records the SQL statements GORM runs on one database while
// recording is on, so a test can prove that two code paths do the same
// database work (an unknown user and a known one, a decoy and a real
// recovery) instead of comparing their wall-clock times, which a busy
// machine makes meaningless.
type Statements struct {
	on  atomic.Bool
	mu  sync.Mutex
	log []string
}

var statementsSeq atomic.Uint64

// CountStatements registers recording callbacks after every GORM
// processor of g (create, query, update, delete, row, raw). Recording is
// off until Record.
func CountStatements(t testing.TB, g *gorm.DB) *Statements {
	t.Helper()
	s := &Statements{}
	name := fmt.Sprintf("dbtest:statements:%d", statementsSeq.Add(1))
	record := func(db *gorm.DB) {
		if !s.on.Load() {
			return
		}
		sql := db.Statement.SQL.String()
		s.mu.Lock()
		s.log = append(s.log, sql)
		s.mu.Unlock()
	}
	cb := g.Callback()
	for _, err := range []error{
		cb.Create().After("gorm:create").Register(name, record),
		cb.Query().After("gorm:query").Register(name, record),
		cb.Update().After("gorm:update").Register(name, record),
		cb.Delete().After("gorm:delete").Register(name, record),
		cb.Row().After("gorm:row").Register(name, record),
		cb.Raw().After("gorm:raw").Register(name, record),
	} {
		if err != nil {
			t.Fatalf("dbtest: register statement counter: %v", err)
		}
	}
	return s
}

// SQL returns the full statements of the last Record, for failure messages.
func (s *Statements) SQL() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// Record runs fn with recording on and returns the statements it ran in
// order, each reduced to "read" (SELECT) or "write" (anything else: an
// UPDATE on one table and an upsert on another are the same work).
func (s *Statements) Record(fn func()) []string {
	s.mu.Lock()
	s.log = nil
	s.mu.Unlock()
	s.on.Store(true)
	fn()
	s.on.Store(false)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.log))
	for i, sql := range s.log {
		out[i] = "write"
		if verb, _, _ := strings.Cut(strings.TrimSpace(sql), " "); strings.EqualFold(verb, "SELECT") {
			out[i] = "read"
		}
	}
	return out
}
