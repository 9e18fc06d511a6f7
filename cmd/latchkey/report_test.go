package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	reports "github.com/latchkeyid/latchkey/plugin/report"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// `latchkey report` prints each report as a table, JSON or an SVG chart,
// in the language asked for, over the real database; bad periods are usage
// errors.
func TestReportCommand(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		c := newCLI(t, url)
		for _, name := range []string{"alice", "bob", "<i>carol</i>"} {
			c.must("a long enough passphrase 1", "user", "create", "--username", name, "--email", strings.Trim(name, "<>/i")+"@example.com", "--password-stdin")
		}
		c.must("", "method", "add", "--user", "alice", "--type", "email", "--value", "alice.home@example.net")
		g := dbtest.Open(t, url)
		day := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		l := audit.NewLog(g)
		for _, e := range []audit.Event{
			{Time: day, Type: audit.CaptchaFailed, UserID: "unknown", Outcome: audit.Fail},
			{Time: day.Add(time.Minute), Type: audit.RecoveryStart, UserID: "u1", FlowID: "F1", Outcome: audit.OK, Detail: "real"},
			{Time: day.Add(2 * time.Minute), Type: audit.CodeSent, UserID: "u1", FlowID: "F1", Outcome: audit.OK},
			{Time: day.Add(3 * time.Minute), Type: audit.MethodVerified, UserID: "u1", FlowID: "F1", Outcome: audit.OK},
			{Time: day.Add(4 * time.Minute), Type: audit.PasswordReset, UserID: "u1", FlowID: "F1", Outcome: audit.OK},
		} {
			if err := l.Record(t.Context(), e); err != nil {
				t.Fatal(err)
			}
		}
		period := func(args ...string) []string {
			return append(args, "--since", "2026-03-01", "--until", "2026-03-04")
		}

		t.Run("coverage-json", func(t *testing.T) {
			var got reports.Coverage
			if err := json.Unmarshal([]byte(c.must("", "report", "coverage", "--format", "json")), &got); err != nil {
				t.Fatal(err)
			}
			if want := (reports.Coverage{Users: 3, Registered: 1, Unregistered: 2}); got != want {
				t.Errorf("coverage %+v, want %+v", got, want)
			}
		})
		t.Run("unregistered-pages", func(t *testing.T) {
			first := c.must("", "report", "unregistered", "--limit", "1")
			_, cursor, ok := strings.Cut(first, "next: --after ")
			if !ok || strings.Contains(first, "alice") {
				t.Fatalf("first page:\n%s", first)
			}
			second := c.must("", "report", "unregistered", "--limit", "1", "--after", strings.TrimSpace(cursor))
			if strings.Contains(second, "next:") || first == second {
				t.Errorf("second page:\n%s", second)
			}
			if both := first + second; !strings.Contains(both, "bob") || !strings.Contains(both, "<i>carol</i>") {
				t.Errorf("the pages miss someone:\n%s", both)
			}
		})
		t.Run("funnel-text-in-german", func(t *testing.T) {
			out := c.must("", period("report", "funnel", "--lang", "de", "--format", "text")...)
			for _, want := range []string{"Wo Wiederherstellungen abbrechen", "CAPTCHA gelöst", "2 (100 %)", "1 hier abgebrochen", "1 (50 %)"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
		t.Run("funnel-json", func(t *testing.T) {
			var got []reports.FunnelStep
			if err := json.Unmarshal([]byte(c.must("", period("report", "funnel", "--format", "json")...)), &got); err != nil {
				t.Fatal(err)
			}
			want := []reports.FunnelStep{{Stage: "started", Reached: 2, Stopped: 1}, {Stage: "captcha_passed", Reached: 1, Stopped: 0}, {Stage: "method_chosen", Reached: 1, Stopped: 0},
				{Stage: "code_verified", Reached: 1, Stopped: 0}, {Stage: "completed", Reached: 1, Stopped: 0}}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("funnel %+v, want %+v", got, want)
			}
		})
		t.Run("recoveries-svg", func(t *testing.T) {
			out := c.must("", period("report", "recoveries", "--format", "svg", "--lang", "fr")...)
			title := svgText(t, []byte(out))
			if title != "Récupérations en libre-service par jour" || !strings.Contains(out, "2 mars 2026") {
				t.Errorf("title %q; dates in French? %v", title, strings.Contains(out, "2 mars 2026"))
			}
		})
		t.Run("usage-errors", func(t *testing.T) {
			for _, args := range [][]string{
				{"report", "funnel", "--since", "yesterday"},
				{"report", "funnel", "--since", "2026-03-04", "--until", "2026-03-01"},
				{"report", "funnel", "--lang", "xx"},
				{"report", "nonsense"},
				{"report", "funnel", "--format", "pdf"},
			} {
				if r := c.run("", args...); r.code != exitUsage {
					t.Errorf("latchkey %s: exit %d, want %d (%s)", strings.Join(args, " "), r.code, exitUsage, r.err)
				}
			}
		})
	})
}

// The command offers exactly the reports the report package runs.
func TestReportNamesMatch(t *testing.T) {
	f, _ := reflect.TypeOf(reportCmd{}).FieldByName("Name")
	if got := strings.Split(f.Tag.Get("enum"), ","); !reflect.DeepEqual(got, reports.Names) {
		t.Errorf("latchkey report offers %v, the package runs %v", got, reports.Names)
	}
}
