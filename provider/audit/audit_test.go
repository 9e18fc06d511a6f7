package audit_test

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/schema"
)

func auditSets() []db.Set {
	s := schema.Set()
	var ms []*db.Migration
	for _, m := range s.Migrations {
		if strings.HasPrefix(m.ID, "0001_") || strings.HasPrefix(m.ID, "0002_") || strings.HasPrefix(m.ID, "0012_") {
			ms = append(ms, m)
		}
	}
	s.Migrations = ms
	return []db.Set{s}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

func TestRecordAndList(t *testing.T) {
	dbtest.EachDB(t, auditSets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		now := t0
		l := audit.NewLog(g, audit.WithClock(func() time.Time { return now }))
		events := []audit.Event{
			{Type: audit.SignIn, UserID: "U1", IP: "192.0.2.1", UserAgent: "curl/8", Outcome: audit.OK},
			{Type: audit.SignInFailed, UserID: "unknown", IP: "192.0.2.2", Outcome: audit.Fail, Detail: `{"reason":"bad-credentials"}`},
			{Type: audit.Lockout, UserID: "U1", Outcome: audit.Blocked},
			{Type: audit.PasswordReset, UserID: "U2", FlowID: "F1", Outcome: audit.OK, Time: t0.Add(time.Hour).In(time.FixedZone("X", 3600))},
		}
		for i, e := range events {
			now = t0.Add(time.Duration(i) * time.Minute)
			if err := l.Record(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			name  string
			f     audit.Filter
			types []string
		}{
			{"all-newest-first", audit.Filter{}, []string{"password.reset", "lockout", "signin.failed", "signin"}},
			{"by-user", audit.Filter{UserID: "U1"}, []string{"lockout", "signin"}},
			{"since", audit.Filter{Since: t0.Add(time.Minute)}, []string{"password.reset", "lockout", "signin.failed"}},
			{"user-and-since", audit.Filter{UserID: "U1", Since: t0.Add(time.Second)}, []string{"lockout"}},
			{"by-type", audit.Filter{Type: audit.SignIn}, []string{"signin"}},
			{"limit", audit.Filter{Limit: 2}, []string{"password.reset", "lockout"}},
			{"nobody", audit.Filter{UserID: "U9"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := l.List(ctx, tt.f)
				if err != nil {
					t.Fatal(err)
				}
				var types []string
				for _, e := range got {
					types = append(types, e.Type)
				}
				if strings.Join(types, ",") != strings.Join(tt.types, ",") {
					t.Fatalf("types = %v, want %v", types, tt.types)
				}
			})
		}
		all, _ := l.List(ctx, audit.Filter{})
		first := all[len(all)-1]
		if first.ID == 0 || !first.Time.Equal(t0) || first.Time.Location() != time.UTC || first.IP != "192.0.2.1" || first.UserAgent != "curl/8" {
			t.Fatalf("stored event = %+v", first)
		}
		if reset := all[0]; !reset.Time.Equal(t0.Add(time.Hour)) || reset.Time.Location() != time.UTC || reset.FlowID != "F1" {
			t.Fatalf("explicit time not kept in UTC: %+v", reset)
		}
	})
}

func TestRecordCleansFields(t *testing.T) {
	dbtest.EachDB(t, auditSets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		l := audit.NewLog(g)
		if err := l.Record(ctx, audit.Event{}); !errors.Is(err, audit.ErrNoType) {
			t.Fatalf("no type = %v", err)
		}
		e := audit.Event{
			ID:        999, // ignored: the database numbers events
			Type:      "signin",
			UserID:    strings.Repeat("u", 500),
			IP:        strings.Repeat("1", 500),
			UserAgent: "evil\r\n2026-01-01 admin.login ok" + strings.Repeat("é", 1000),
			Detail:    strings.Repeat("d", 5000) + "\xff",
			Outcome:   "ok",
		}
		if err := l.Record(ctx, e); err != nil {
			t.Fatalf("oversized event must be cut, not refused: %v", err)
		}
		got, err := l.List(ctx, audit.Filter{})
		if err != nil || len(got) != 1 {
			t.Fatal(got, err)
		}
		r := got[0]
		if r.ID == 999 || len([]rune(r.UserID)) != audit.MaxID || len([]rune(r.IP)) != audit.MaxIP ||
			len([]rune(r.UserAgent)) != audit.MaxUserAgent || len([]rune(r.Detail)) != audit.MaxDetail {
			t.Fatalf("lengths id=%d user=%d ip=%d ua=%d detail=%d", r.ID, len(r.UserID), len(r.IP), len([]rune(r.UserAgent)), len([]rune(r.Detail)))
		}
		if strings.ContainsAny(r.UserAgent, "\r\n") {
			t.Fatalf("control characters kept: %q", r.UserAgent[:40])
		}
	})
}

// RecordTx writes with the caller's transaction: rolled back, no event.
func TestRecordTx(t *testing.T) {
	dbtest.EachDB(t, auditSets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		l := audit.NewLog(g)
		boom := errors.New("boom")
		err := g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := l.RecordTx(tx, audit.Event{Type: audit.PasswordReset, UserID: "U1"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		err = g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return l.RecordTx(tx, audit.Event{Type: audit.Unlock, UserID: "U1"})
		})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := l.List(ctx, audit.Filter{UserID: "U1"})
		if len(got) != 1 || got[0].Type != audit.Unlock {
			t.Fatalf("events = %+v, want only the committed unlock", got)
		}
	})
}

func TestConcurrentRecord(t *testing.T) {
	dbtest.EachDB(t, auditSets(), func(t *testing.T, g *gorm.DB) {
		l := audit.NewLog(g)
		var wg sync.WaitGroup
		for range 30 {
			wg.Go(func() {
				if err := l.Record(t.Context(), audit.Event{Type: audit.SignInFailed, UserID: "U1", Outcome: audit.Fail}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got, _ := l.List(t.Context(), audit.Filter{UserID: "U1", Limit: 100})
		if len(got) != 30 {
			t.Fatalf("%d events, want 30", len(got))
		}
	})
}

// Checklist 65 (in part): Event has no field meant to carry a secret, so
// no caller can put one there by name. Secrets could still be written into
// Detail; the package documentation forbids it and the flows' own tests
// grep the log.
func TestEventHasNoSecretField(t *testing.T) {
	secretish := regexp.MustCompile(`(?i)pass|code|token|secret|answer|otp|seed|key|hash|pin`)
	typ := reflect.TypeFor[audit.Event]()
	want := []string{"ID", "Time", "Type", "UserID", "FlowID", "IP", "UserAgent", "Outcome", "Detail"}
	var got []string
	for f := range typ.Fields() {
		got = append(got, f.Name)
		if secretish.MatchString(f.Name) {
			t.Errorf("field %s looks like it carries a secret", f.Name)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Event fields = %v; a new field needs a review against the no-secrets rule, then update this list", got)
	}
}
