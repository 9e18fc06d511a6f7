package db_test

import (
	"errors"
	"fmt"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"
	dto "github.com/prometheus/client_model/go"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

func retried(op string) float64 {
	var m dto.Metric
	_ = db.Retries.WithLabelValues(op).Write(&m)
	return m.GetCounter().GetValue()
}

// TestRetry: a conflict reruns the work, a bounded number of times, and
// counts each rerun; any other error, or success, ends it at once.
func TestRetry(t *testing.T) {
	deadlock := fmt.Errorf("wrapped: %w", &gomysql.MySQLError{Number: 1213, Message: "Deadlock found"})
	tests := []struct {
		name     string
		errs     []error // what each run returns; the last repeats
		wantRuns int
		wantErr  bool
	}{
		{"success", []error{nil}, 1, false},
		{"other error", []error{errors.New("boom")}, 1, true},
		{"duplicate key is no conflict", []error{&gomysql.MySQLError{Number: 1062}}, 1, true},
		{"deadlock then success", []error{deadlock, nil}, 2, false},
		{"lock wait then success", []error{&gomysql.MySQLError{Number: 1205}, nil}, 2, false},
		{"galera not ready then success", []error{&gomysql.MySQLError{Number: 1047}, nil}, 2, false},
		{"deadlock forever", []error{deadlock}, 6, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := "test." + tt.name
			runs := 0
			err := db.Retry(t.Context(), op, func() error {
				e := tt.errs[min(runs, len(tt.errs)-1)]
				runs++
				return e
			})
			if runs != tt.wantRuns || (err != nil) != tt.wantErr {
				t.Fatalf("ran %d times, err %v; want %d runs, error %v", runs, err, tt.wantRuns, tt.wantErr)
			}
			if got := retried(op); got != float64(tt.wantRuns-1) {
				t.Fatalf("latchkey_db_retries_total{op=%q} = %v, want %d", op, got, tt.wantRuns-1)
			}
		})
	}
}

// TestRetryInsideTransaction: inside a transaction a conflict is returned
// at once (the server rolled the whole transaction back, so the statement
// must not run again alone); the outer Transact reruns everything.
func TestRetryInsideTransaction(t *testing.T) {
	g := dbtest.Open(t, dbtest.URL(t, dbtest.SQLite))
	deadlock := &gomysql.MySQLError{Number: 1213}
	outer, inner := 0, 0
	err := db.Transact(t.Context(), g, "test.outer", func(tx *gorm.DB) error {
		outer++
		return db.RetryStmt(t.Context(), tx, "test.inner", func(*gorm.DB) error {
			inner++
			if outer == 1 {
				return deadlock
			}
			return nil
		})
	})
	if err != nil || outer != 2 || inner != 2 {
		t.Fatalf("err %v, outer ran %d times, inner %d; want the outer transaction rerun once", err, outer, inner)
	}
	nested := 0
	_ = db.Transact(t.Context(), g, "test.outer2", func(tx *gorm.DB) error {
		return db.Transact(t.Context(), tx, "test.nested", func(*gorm.DB) error { nested++; return deadlock })
	})
	if nested != db.MaxAttempts {
		t.Fatalf("a nested Transact ran %d times; want once per outer attempt (%d)", nested, db.MaxAttempts)
	}
}
