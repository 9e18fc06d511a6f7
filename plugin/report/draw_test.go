package report_test

import (
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/plugin/report"
	"github.com/latchkeyid/latchkey/plugin/report/chart"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// Every chart, in every language: no message ID left untranslated, the
// period's dates in the language, a user's markup in a label kept inert.
func TestDrawEveryLanguage(t *testing.T) {
	dates := map[string]string{"en": "1 March 2026", "de": "1. März 2026", "fr": "1 mars 2026", "es": "1 de marzo de 2026", "ja": "2026年3月1日"}
	for _, lang := range i18n.Languages() {
		t.Run(lang.Tag, func(t *testing.T) {
			l, ok := i18n.For(lang.Tag)
			if !ok {
				t.Fatal("no localizer")
			}
			days := []report.RecoveryDay{{Day: day(1, 0, 0), Started: 4, Resets: 1, Unlocks: 1, SuccessRate: 0.5}}
			per := []report.DayCount{{Day: day(1, 0, 0), Count: 2}}
			charts := map[string]chart.Chart{
				"registrations": report.DrawRegistrations(l, rg, []report.MethodCount{{Method: "email", Users: 2, Total: 2, Added: 1}, {Method: `<script>x</script>`, Users: 1, Total: 1}}),
				"coverage":      report.DrawCoverage(l, report.Coverage{Users: 7, Registered: 3, Unregistered: 4}),
				"recoveries":    report.DrawRecoveries(l, rg, days),
				"funnel":        report.DrawFunnel(l, rg, []report.FunnelStep{{Stage: report.StageStarted, Reached: 4, Stopped: 2}, {Stage: report.StageCompleted, Reached: 2}}),
				"locked":        report.DrawLocked(l, rg, report.Locked{Now: 1, PerDay: per}),
				"fraud":         report.DrawFraud(l, rg, report.Fraud{Open: 1, PerDay: per}),
				"phone":         report.DrawPhoneSends(l, rg, []report.CountrySends{{CallingCode: "44", Region: "GB", Shared: true, Sent: 3, Blocked: 2}, {Blocked: 1}}),
			}
			for name, c := range charts {
				all := c.SVG + c.Table.HTML()
				if strings.Contains(all, "report.") || strings.Contains(all, "method.") {
					t.Errorf("%s: a message ID was left untranslated:\n%s", name, all)
				}
				if strings.Contains(all, "<script") {
					t.Errorf("%s: a label was not escaped", name)
				}
				if want, ok := dates[lang.Tag]; ok && name != "coverage" && !strings.Contains(c.SVG, want) {
					t.Errorf("%s: no %q in the chart", name, want)
				}
			}
			if lang.Tag == "en" {
				if !strings.Contains(charts["phone"].SVG, "+44 (United Kingdom and others)") {
					t.Errorf("the calling code is not named: %s", charts["phone"].Table.HTML())
				}
				if !strings.Contains(charts["recoveries"].Table.HTML(), "<td>50%</td>") {
					t.Errorf("the success rate is not in the table: %s", charts["recoveries"].Table.HTML())
				}
			}
		})
	}
}
