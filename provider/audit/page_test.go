package audit_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// seedEvents records n events, several per microsecond (so pages must
// break ties by id), cycling through users, types and outcomes.
func seedEvents(t *testing.T, l *audit.Log, n int) {
	t.Helper()
	users := []string{"U1", "U2", "U3"}
	types := []string{audit.SignIn, audit.SignInFailed, audit.PasswordReset, audit.MethodAdded}
	outcomes := []string{audit.OK, audit.Fail, audit.Blocked}
	for i := range n {
		e := audit.Event{Time: t0.Add(time.Duration(i/3) * time.Second), Type: types[i%4], UserID: users[i%3],
			Outcome: outcomes[i%5%3], IP: "192.0.2.7"}
		if err := l.Record(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
}

func pageAll(t *testing.T, l *audit.Log, f audit.Filter) []audit.Event {
	t.Helper()
	var out []audit.Event
	cur := ""
	for range 10000 {
		p, err := l.Page(t.Context(), f, cur)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) > max(f.Limit, 1) {
			t.Fatalf("page of %d, limit %d", len(p.Events), f.Limit)
		}
		out = append(out, p.Events...)
		if p.Next == "" {
			return out
		}
		cur = p.Next
	}
	t.Fatal("pages never end")
	return nil
}

func TestPageFilters(t *testing.T) {
	dbtest.EachDB(t, auditSets(), func(t *testing.T, g *gorm.DB) {
		l := audit.NewLog(g)
		const n = 600
		seedEvents(t, l, n)
		all, err := l.List(t.Context(), audit.Filter{Limit: audit.MaxLimit})
		if err != nil || len(all) != n {
			t.Fatalf("List = %d, %v", len(all), err)
		}
		tests := []struct {
			name string
			f    audit.Filter
			keep func(audit.Event) bool
		}{
			{"all", audit.Filter{}, func(audit.Event) bool { return true }},
			{"user", audit.Filter{UserID: "U2"}, func(e audit.Event) bool { return e.UserID == "U2" }},
			{"type", audit.Filter{Type: audit.PasswordReset}, func(e audit.Event) bool { return e.Type == audit.PasswordReset }},
			{"outcome", audit.Filter{Outcome: audit.Blocked}, func(e audit.Event) bool { return e.Outcome == audit.Blocked }},
			{"range", audit.Filter{Since: t0.Add(20 * time.Second), Until: t0.Add(40 * time.Second)}, func(e audit.Event) bool {
				return !e.Time.Before(t0.Add(20*time.Second)) && e.Time.Before(t0.Add(40*time.Second))
			}},
			{"everything-at-once", audit.Filter{UserID: "U1", Type: audit.SignIn, Outcome: audit.OK, Since: t0.Add(10 * time.Second), Until: t0.Add(150 * time.Second)},
				func(e audit.Event) bool {
					return e.UserID == "U1" && e.Type == audit.SignIn && e.Outcome == audit.OK &&
						!e.Time.Before(t0.Add(10*time.Second)) && e.Time.Before(t0.Add(150*time.Second))
				}},
			{"nothing", audit.Filter{UserID: "nobody"}, func(audit.Event) bool { return false }},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var want []audit.Event
				for _, e := range all {
					if tt.keep(e) {
						want = append(want, e)
					}
				}
				for _, limit := range []int{1, 7, 1000} {
					f := tt.f
					f.Limit = limit
					got := pageAll(t, l, f)
					if len(got) != len(want) {
						t.Fatalf("limit %d: %d events, want %d", limit, len(got), len(want))
					}
					for i := range got {
						if got[i].ID != want[i].ID {
							t.Fatalf("limit %d: event %d is #%d, want #%d (newest first, each once)", limit, i, got[i].ID, want[i].ID)
						}
					}
				}
			})
		}
		t.Run("new-events-while-paging", func(t *testing.T) {
			p, err := l.Page(t.Context(), audit.Filter{Limit: 10}, "")
			if err != nil {
				t.Fatal(err)
			}
			for range 5 { // newer than the first page: not on later ones
				if err := l.Record(t.Context(), audit.Event{Type: audit.SignIn, Time: t0.Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
			}
			cur, seen := p.Next, len(p.Events)
			for cur != "" {
				q, err := l.Page(t.Context(), audit.Filter{Limit: 50}, cur)
				if err != nil {
					t.Fatal(err)
				}
				seen += len(q.Events)
				cur = q.Next
			}
			if seen != n {
				t.Fatalf("paged %d events after new ones arrived, want the %d there were", seen, n)
			}
		})
		for _, bad := range []string{"!!", "bm9wZQ", strings.Repeat("A", 200)} {
			t.Run("bad-cursor", func(t *testing.T) {
				if _, err := l.Page(t.Context(), audit.Filter{}, bad); !errors.Is(err, audit.ErrBadCursor) {
					t.Fatalf("Page(%q) = %v", bad, err)
				}
			})
		}
	})
}

// What an export writes reads back into the very events the log holds,
// field for field, in both formats, with values that trip naive CSV and
// spreadsheets: commas, quotes, formulas, apostrophes, non-ASCII.
func TestExportRoundTrips(t *testing.T) {
	dbtest.EachDB(t, auditSets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		l := audit.NewLog(g)
		tricky := []audit.Event{
			{Type: audit.SignIn, UserID: "U1", IP: "2001:db8::1%eth0", UserAgent: `Mozilla/5.0 (X11; "quoted", comma)`, Outcome: audit.OK, Detail: `{"amr":["pwd"],"client":"web"}`},
			{Type: "admin.user.create", UserID: "=HYPERLINK(\"http://evil\")", UserAgent: "+cmd|' /C calc'!A0", Outcome: audit.Fail, Detail: "-2+3"},
			{Type: audit.Lockout, UserID: "@SUM(1)", UserAgent: "'already quoted", Outcome: audit.Blocked, Detail: "''two"},
			{Type: audit.CodeSent, UserID: "ユーザー", UserAgent: "ﻣﺘﺼﻔﺢ 🙂", FlowID: "F-1", Outcome: audit.OK, Detail: ""},
			{Type: audit.Unlock, UserID: "", IP: "", UserAgent: "", Outcome: "", Detail: " leading and trailing "},
		}
		for i, e := range tricky {
			e.Time = t0.Add(time.Duration(i) * 1500 * time.Microsecond)
			if err := l.Record(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		seedEvents(t, l, 2100) // more than one export batch
		for _, tt := range []struct {
			name string
			f    audit.Filter
		}{
			{"everything", audit.Filter{}},
			{"filtered", audit.Filter{UserID: "U3", Outcome: audit.Fail}},
		} {
			want := pageAll(t, l, audit.Filter{UserID: tt.f.UserID, Outcome: tt.f.Outcome, Limit: audit.MaxLimit})
			for _, format := range []string{audit.CSV, audit.JSONL} {
				t.Run(tt.name+"-"+format, func(t *testing.T) {
					var buf bytes.Buffer
					n, err := l.Export(ctx, &buf, format, tt.f)
					if err != nil || n != len(want) {
						t.Fatalf("Export = %d, %v; want %d", n, err, len(want))
					}
					got, err := audit.ReadExport(bytes.NewReader(buf.Bytes()), format)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, want) {
						for i := range min(len(got), len(want)) {
							if !reflect.DeepEqual(got[i], want[i]) {
								t.Fatalf("record %d:\n got %+v\nwant %+v", i, got[i], want[i])
							}
						}
						t.Fatalf("%d records read back, want %d", len(got), len(want))
					}
					if format == audit.CSV && strings.Contains(buf.String(), ",=HYPERLINK") {
						t.Fatal("a formula reached a CSV cell unquoted")
					}
				})
			}
		}
	})
}

func TestReadExportRefuses(t *testing.T) {
	for _, tt := range []struct{ name, format, in string }{
		{"csv-wrong-header", audit.CSV, "a,b,c,d,e,f,g,h,i\n"},
		{"csv-short-row", audit.CSV, "id,time,type,user_id,flow_id,ip,user_agent,outcome,detail\n1,2\n"},
		{"csv-bad-time", audit.CSV, "id,time,type,user_id,flow_id,ip,user_agent,outcome,detail\n1,yesterday,t,,,,,,\n"},
		{"jsonl-unknown-field", audit.JSONL, `{"id":1,"time":"2026-03-01T12:00:00Z","password":"x"}` + "\n"},
		{"jsonl-garbage", audit.JSONL, "{\n"},
		{"other-format", "xml", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := audit.ReadExport(strings.NewReader(tt.in), tt.format); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// Retention deletes expired events in bounded batches, oldest first, and
// keeps everything newer; writers recording while it runs all succeed and
// their events stay.
func TestPruneInBatches(t *testing.T) {
	dbtest.EachDB(t, auditSets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		l := audit.NewLog(g)
		const old = 1050
		for i := range old {
			if err := l.Record(ctx, audit.Event{Type: audit.SignIn, Time: t0.Add(time.Duration(i) * time.Millisecond)}); err != nil {
				t.Fatal(err)
			}
		}
		cutoff := t0.Add(time.Hour)
		if err := l.Record(ctx, audit.Event{Type: audit.SignIn, Time: cutoff}); err != nil { // at the cutoff: kept
			t.Fatal(err)
		}
		n, err := l.Prune(ctx, cutoff, 100)
		if err != nil || n != 100 {
			t.Fatalf("Prune = %d, %v; want one batch of 100", n, err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 50 {
					errs <- l.Record(ctx, audit.Event{Type: audit.SignIn, Detail: fmt.Sprint(i, j)})
				}
			}()
		}
		total, err := l.PruneAll(ctx, cutoff, 100, 3)
		if err != nil || total != 300 {
			t.Fatalf("PruneAll(3 batches) = %d, %v; want 300", total, err)
		}
		total, err = l.PruneAll(ctx, cutoff, 100, 100)
		if err != nil || total != old-400 {
			t.Fatalf("PruneAll = %d, %v; want the remaining %d", total, err, old-400)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("a writer failed while pruning: %v", err)
			}
		}
		left, err := l.List(ctx, audit.Filter{Limit: audit.MaxLimit})
		if err != nil || len(left) != 201 {
			t.Fatalf("%d events left (%v), want the one at the cutoff and the 200 written meanwhile", len(left), err)
		}
		if n, err := l.Prune(ctx, cutoff, 100); err != nil || n != 0 {
			t.Fatalf("second prune = %d, %v", n, err)
		}
	})
}
