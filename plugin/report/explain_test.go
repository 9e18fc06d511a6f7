package report_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/report"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// The reports over the audit log read only the range asked for, through
// the time index: EXPLAIN shows no full scan of audit_events on either
// database, however long the log grows. (Coverage and the locked count
// read every user by nature; the unregistered list is a primary-key range.)
func TestAuditReportsUseTheTimeIndex(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		// 4,000 events over 200 days, so a 3-day range is a small slice.
		var rows []audit.Event
		types := []string{audit.RecoveryStart, audit.CodeSent, audit.SignIn, audit.Lockout, "phone.send", audit.FraudReported}
		for i := range 4000 {
			rows = append(rows, audit.Event{Time: day(1, 0, 0).AddDate(0, 0, -100).Add(time.Duration(i) * 72 * time.Minute),
				Type: types[i%len(types)], UserID: "u", FlowID: fmt.Sprint("F", i/3), Outcome: audit.OK, Detail: `{"cc":"44"}`})
		}
		if err := g.CreateInBatches(rows, 500).Error; err != nil {
			t.Fatal(err)
		}
		if g.Dialector.Name() == db.MySQL {
			if err := g.Exec("ANALYZE TABLE audit_events").Error; err != nil {
				t.Fatal(err)
			}
		}
		rec := dbtest.NewRecorder()
		r := report.New(g.Session(&gorm.Session{Logger: rec}))
		for name, run := range map[string]func() error{
			"recoveries": func() error { _, err := r.Recoveries(ctx, rg); return err },
			"funnel":     func() error { _, err := r.Funnel(ctx, rg); return err },
			"locked":     func() error { _, err := r.Locked(ctx, rg); return err },
			"fraud":      func() error { _, err := r.Fraud(ctx, rg); return err },
			"phone":      func() error { _, err := r.PhoneSends(ctx, rg); return err },
		} {
			if err := run(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		explained := 0
		for _, q := range rec.SQL() {
			if !strings.Contains(q, "audit_events") {
				continue
			}
			explained++
			if scan := fullScan(t, g, q); scan != "" {
				t.Errorf("full scan of audit_events (%s) in:\n  %s", scan, q)
			}
		}
		if explained < 6 {
			t.Fatalf("only %d statements explained", explained)
		}
	})
}

// fullScan describes a full scan of audit_events in q's plan, or "".
func fullScan(t *testing.T, g *gorm.DB, q string) string {
	t.Helper()
	for _, p := range dbtest.Explain(t, g, q) {
		switch {
		case strings.HasPrefix(p.Detail, "SCAN audit_events") && !strings.Contains(p.Detail, " USING "):
			return p.Detail
		case p.Cols["table"] == "audit_events" && p.Cols["type"] == "ALL":
			return fmt.Sprint(p.Cols)
		}
	}
	return ""
}
