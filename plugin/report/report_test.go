package report_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/report"
	pschema "github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/schema"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// now is the clock of the seeded world; the reports cover March 1-3.
var (
	now = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	rg  = report.Range{Since: day(1, 0, 0), Until: day(4, 0, 0)}
)

func day(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, time.UTC) }

type seedUser struct {
	id, name        string
	disabled        bool
	lockedUntil     *time.Time
	reportedAt      *time.Time
	methods         []string
	methodCreatedAt []time.Time
}

func ptr(t time.Time) *time.Time { return &t }

var users = []seedUser{
	{id: "u01", name: "alice", methods: []string{"email", "mobile"}, methodCreatedAt: []time.Time{day(2, 8, 0), day(3, 8, 0)}},
	{id: "u02", name: "bob", lockedUntil: ptr(now.Add(-time.Hour)), methods: []string{"email"}, methodCreatedAt: []time.Time{day(-27, 0, 0)}},
	{id: "u03", name: "carol", disabled: true, methods: []string{"totp"}, methodCreatedAt: []time.Time{day(2, 0, 0)}},
	{id: "u04", name: "dave"},
	{id: "u05", name: "eve", lockedUntil: ptr(now.Add(time.Hour))},
	{id: "u06", name: "frank", reportedAt: ptr(day(2, 14, 0))},
	{id: "u07", name: `<script>alert(1)</script>`},
	{id: "u08", name: "grace", methods: []string{"alternate-phone", "alternate-phone"}, methodCreatedAt: []time.Time{day(1, 0, 0), day(5, 0, 0)}},
}

func sets() []db.Set { return []db.Set{schema.Set(), pschema.Set()} }

func seed(t *testing.T, g *gorm.DB) {
	t.Helper()
	for _, u := range users {
		row := map[string]any{"id": u.id, "username": u.name, "username_key": u.name, "email": u.name + "@example.com",
			"email_key": u.name + "@example.com", "display_name": "Name of " + u.name, "phone": "", "disabled": u.disabled,
			"admin": false, "password_hash": "", "password_changed_at": day(1, 0, 0), "failed_logins": 0,
			"locked_until": u.lockedUntil, "lockouts": 0, "bad_password_marks": "", "created_at": day(1, 0, 0), "updated_at": day(1, 0, 0)}
		if err := g.Table("users").Create(row).Error; err != nil {
			t.Fatal(err)
		}
		for i, m := range u.methods {
			row := map[string]any{"id": u.id + "m" + string(rune('a'+i)), "user_id": u.id, "method": m, "label": m,
				"destination_key": string(rune('a' + i)), "counter": 0, "created_at": u.methodCreatedAt[i],
				"usable_at": u.methodCreatedAt[i], "verified_at": u.methodCreatedAt[i]}
			if err := g.Table("sspr_methods").Create(row).Error; err != nil {
				t.Fatal(err)
			}
		}
		if u.reportedAt != nil {
			row := map[string]any{"user_id": u.id, "skips": 0, "updated_at": *u.reportedAt, "had_methods": true,
				"first_session_id": "", "reported_at": *u.reportedAt}
			if err := g.Table("sspr_user_state").Create(row).Error; err != nil {
				t.Fatal(err)
			}
		}
	}
	phoneDetail := func(cc string) string {
		b, _ := json.Marshal(map[string]string{"method": "mobile", "channel": "sms", "cc": cc, "to": "+" + cc + " •••• 12"})
		return string(b)
	}
	ev := func(at time.Time, typ, user, flow, outcome, detail string) audit.Event {
		return audit.Event{Time: at, Type: typ, UserID: user, FlowID: flow, Outcome: outcome, Detail: detail}
	}
	events := []audit.Event{
		// F1: completed by a reset.
		ev(day(1, 10, 0), audit.RecoveryStart, "u01", "F1", audit.OK, "real"),
		ev(day(1, 10, 1), audit.CodeSent, "u01", "F1", audit.OK, "email a…@example.com"),
		ev(day(1, 10, 2), audit.MethodVerified, "u01", "F1", audit.OK, "email"),
		ev(day(1, 10, 3), audit.PasswordReset, "u01", "F1", audit.OK, "sspr email"),
		// F2: a wrong code, then gone.
		ev(day(1, 11, 0), audit.RecoveryStart, "u02", "F2", audit.OK, "real"),
		ev(day(1, 11, 1), audit.CodeSent, "u02", "F2", audit.OK, "email"),
		ev(day(1, 11, 2), audit.MethodFailed, "u02", "F2", audit.Fail, "email"),
		// F3: a name with no account.
		ev(day(2, 9, 0), audit.RecoveryStart, "unknown", "F3", audit.OK, "decoy"),
		ev(day(2, 9, 1), audit.CodeSent, "unknown", "F3", audit.OK, "email"),
		// F4: started before midnight, unlocked after.
		ev(day(2, 23, 55), audit.RecoveryStart, "u05", "F4", audit.OK, "real"),
		ev(day(2, 23, 58), audit.CodeSent, "u05", "F4", audit.OK, "mobile"),
		ev(day(3, 0, 2), audit.MethodVerified, "u05", "F4", audit.OK, "mobile"),
		ev(day(3, 0, 3), audit.Unlock, "u05", "F4", audit.OK, "sspr mobile"),
		// F5: only the CAPTCHA.
		ev(day(3, 12, 0), audit.RecoveryStart, "u01", "F5", audit.OK, "real"),
		// F6: its code went out after the range ended (read: within a flow's life).
		ev(day(3, 23, 58), audit.RecoveryStart, "u02", "F6", audit.OK, "real"),
		ev(day(4, 0, 5), audit.CodeSent, "u02", "F6", audit.OK, "email"),
		// Not in the range's recoveries: started before it; a registration; an administrator's reset.
		ev(day(0, 23, 59), audit.RecoveryStart, "u01", "F0", audit.OK, "real"),
		ev(day(1, 0, 5), audit.MethodVerified, "u01", "F0", audit.OK, "email"),
		ev(day(1, 0, 6), audit.PasswordReset, "u01", "F0", audit.OK, "sspr email"),
		ev(day(2, 1, 0), audit.MethodVerified, "u01", "FR", audit.OK, "mobile"),
		ev(day(1, 15, 0), audit.PasswordReset, "u02", "", audit.OK, "admin"),
		// Wrong CAPTCHAs: three in the range.
		ev(day(1, 9, 0), audit.CaptchaFailed, "unknown", "", audit.Fail, ""),
		ev(day(1, 9, 1), audit.CaptchaFailed, "unknown", "", audit.Fail, ""),
		ev(day(2, 9, 0), audit.CaptchaFailed, "unknown", "", audit.Fail, ""),
		ev(day(4, 9, 0), audit.CaptchaFailed, "unknown", "", audit.Fail, ""),
		// Lockouts: two on the 1st (one of a name with no account), one on the 3rd.
		ev(day(1, 8, 0), audit.Lockout, "u05", "", audit.Blocked, ""),
		ev(day(1, 8, 30), audit.Lockout, "unknown", "", audit.Blocked, ""),
		ev(day(3, 8, 0), audit.Lockout, "u05", "", audit.Blocked, ""),
		ev(day(5, 8, 0), audit.Lockout, "u05", "", audit.Blocked, ""),
		// Reports.
		ev(day(2, 14, 0), audit.FraudReported, "u06", "", audit.OK, "email"),
		// Phone sends.
		ev(day(1, 1, 0), "phone.send", "u01", "F1", audit.OK, phoneDetail("44")),
		ev(day(1, 2, 0), "phone.send", "u01", "F1", audit.OK, phoneDetail("44")),
		ev(day(2, 3, 0), "phone.send", "u01", "F1", audit.OK, phoneDetail("44")),
		ev(day(2, 4, 0), "phone.send", "u01", "F1", audit.Blocked, phoneDetail("44")),
		ev(day(2, 5, 0), "phone.send", "u01", "F1", audit.Blocked, phoneDetail("44")),
		ev(day(3, 6, 0), "phone.send", "u02", "F2", audit.OK, phoneDetail("1")),
		ev(day(3, 7, 0), "phone.send", "u02", "F2", audit.Fail, phoneDetail("1")),
		ev(day(3, 8, 0), "phone.send", "u02", "F2", audit.Blocked, phoneDetail("999")),
		ev(day(3, 9, 0), "phone.send", "u02", "F2", audit.Blocked, `{"cc":"44","to":"cut`),
		ev(day(6, 9, 0), "phone.send", "u02", "F2", audit.OK, phoneDetail("44")),
	}
	l := audit.NewLog(g)
	for _, e := range events {
		if err := l.Record(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
}

// Every report, on both databases, over one seeded world, with exact numbers.
func TestReports(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		seed(t, g)
		r := report.New(g, report.WithClock(func() time.Time { return now }))
		ctx := t.Context()
		tests := []struct {
			name string
			run  func() (any, error)
			want any
		}{
			{"registrations", func() (any, error) { return r.Registrations(ctx, rg) }, []report.MethodCount{
				{Method: "alternate-phone", Users: 1, Total: 2, Added: 1},
				{Method: "email", Users: 2, Total: 2, Added: 1},
				{Method: "mobile", Users: 1, Total: 1, Added: 1},
			}},
			{"coverage", func() (any, error) { return r.Coverage(ctx) }, report.Coverage{Users: 7, Registered: 3, Unregistered: 4}},
			{"unregistered-first-page", func() (any, error) { return ids(r.Unregistered(ctx, "", 3)) }, []string{"u04", "u05", "u06", "next=u06"}},
			{"unregistered-last-page", func() (any, error) { return ids(r.Unregistered(ctx, "u06", 3)) }, []string{"u07"}},
			{"recoveries", func() (any, error) { return r.Recoveries(ctx, rg) }, []report.RecoveryDay{
				// F0, started the day before, completed on the 1st.
				{Day: day(1, 0, 0), Started: 2, Resets: 2, SuccessRate: 1},
				{Day: day(2, 0, 0), Started: 2, Decoys: 1},
				{Day: day(3, 0, 0), Started: 2, Unlocks: 1, SuccessRate: 0.5},
			}},
			{"funnel", func() (any, error) { return r.Funnel(ctx, rg) }, []report.FunnelStep{
				{Stage: report.StageStarted, Reached: 9, Stopped: 3},
				{Stage: report.StageCaptchaPassed, Reached: 6, Stopped: 1},
				{Stage: report.StageMethodChosen, Reached: 5, Stopped: 3},
				{Stage: report.StageCodeVerified, Reached: 2, Stopped: 0},
				{Stage: report.StageCompleted, Reached: 2, Stopped: 0},
			}},
			{"locked", func() (any, error) { return r.Locked(ctx, rg) }, report.Locked{Now: 1,
				Accounts: []report.Account{{ID: "u05", Username: "eve", DisplayName: "Name of eve", At: now.Add(time.Hour)}},
				PerDay:   []report.DayCount{{Day: day(1, 0, 0), Count: 2}, {Day: day(2, 0, 0)}, {Day: day(3, 0, 0), Count: 1}}}},
			{"fraud", func() (any, error) { return r.Fraud(ctx, rg) }, report.Fraud{Open: 1,
				Accounts: []report.Account{{ID: "u06", Username: "frank", DisplayName: "Name of frank", At: day(2, 14, 0)}},
				PerDay:   []report.DayCount{{Day: day(1, 0, 0)}, {Day: day(2, 0, 0), Count: 1}, {Day: day(3, 0, 0)}}}},
			{"phone-sends", func() (any, error) { return r.PhoneSends(ctx, rg) }, []report.CountrySends{
				{CallingCode: "44", Region: "GB", Shared: true, Sent: 3, Blocked: 2}, // with Guernsey, Jersey, the Isle of Man
				{CallingCode: "1", Region: "US", Shared: true, Sent: 1, Failed: 1},
				{CallingCode: "", Blocked: 1},
				{CallingCode: "999", Blocked: 1},
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := tt.run()
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got  %+v\nwant %+v", got, tt.want)
				}
			})
		}
	})
}

func ids(p report.People, err error) ([]string, error) {
	var out []string
	for _, u := range p.People {
		out = append(out, u.ID)
	}
	if p.Next != "" {
		out = append(out, "next="+p.Next)
	}
	return out, err
}

// A range that ends before it starts, or spans more than ten years, is refused.
func TestRangeRefused(t *testing.T) {
	dbtest.EachDB(t, sets()[:1], func(t *testing.T, g *gorm.DB) {
		r := report.New(g)
		for _, bad := range []report.Range{
			{Since: day(2, 0, 0), Until: day(1, 0, 0)},
			{Since: day(1, 0, 0), Until: day(1, 0, 0)},
			{Since: day(1, 0, 0), Until: day(1, 0, 0).AddDate(11, 0, 0)},
		} {
			if _, err := r.Recoveries(t.Context(), bad); err != report.ErrRange {
				t.Errorf("Recoveries(%v) = %v, want ErrRange", bad, err)
			}
		}
	})
}

// Run serves every name the command line and the API offer, and refuses
// any other.
func TestRunEveryName(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		seed(t, g)
		r := report.New(g, report.WithClock(func() time.Time { return now }))
		l := i18n.English()
		for _, name := range report.Names {
			t.Run(name, func(t *testing.T) {
				res, err := r.Run(t.Context(), l, report.Request{Name: name, Range: rg, Limit: 2})
				if err != nil {
					t.Fatal(err)
				}
				if res.Data == nil || !strings.HasPrefix(res.Chart.SVG, "<svg ") || res.Chart.Table.Caption == "" {
					t.Errorf("result %+v", res)
				}
				wantLists := map[string]int{"unregistered": 1, "locked": 1, "fraud": 1}[name]
				if len(res.Lists) != wantLists {
					t.Errorf("%d lists, want %d", len(res.Lists), wantLists)
				}
			})
		}
		if _, err := r.Run(t.Context(), l, report.Request{Name: "users", Range: rg}); !errors.Is(err, report.ErrUnknown) {
			t.Errorf("unknown name: %v", err)
		}
	})
}
