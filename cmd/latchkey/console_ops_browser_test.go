package main

import (
	"encoding/csv"
	"slices"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
)

// TestBrowserConsoleOpsJourney: in a real Chromium the admin changes the
// policy (a problem shown beside its field, then saved), adds a custom
// question, filters the audit log and exports it as CSV from the page's
// link, and reads every report, each with an inline chart the page's CSP
// lets draw and its numbers as a table. Every page passes axe and fits a
// phone; screenshots are consoleops-*.
func TestBrowserConsoleOpsJourney(t *testing.T) {
	consoleJourney(t, "consoleops", false, func(t *testing.T, e *consoleEnv, tab *chrometest.Tab, visit func(name, sel string)) {
		tab.Click("#to-policy")
		visit("policy", "#policy-form")
		tab.Clear("#helpdesk_url")
		tab.Type("#helpdesk_url", "javascript:alert(1)")
		tab.Click("#policy-save")
		visit("policy-problems", "#err-helpdesk_url")
		tab.Clear("#helpdesk_url")
		tab.Type("#helpdesk_url", "https://help.example/reset")
		tab.Clear("#reconfirm_days")
		tab.Type("#reconfirm_days", "120")
		tab.Click("#policy-save")
		visit("policy-saved", "#notice")
		if p := e.storedPolicy(t); p.ReconfirmDays != 120 || p.HelpdeskURL != "https://help.example/reset" {
			t.Errorf("stored policy: %+v", p)
		}

		tab.Click("#question-add")
		visit("question-form", "#question-form")
		tab.Type("#text_en", "Where was our first office?")
		tab.Type("#text_de", "Wo war unser erstes Büro?")
		tab.Click("#question-save")
		visit("policy-question-added", "#custom-questions")
		if qs := e.storedQuestions(t); len(qs) != 1 || qs[0].Texts["de"] != "Wo war unser erstes Büro?" {
			t.Errorf("stored questions: %+v", qs)
		}
		tab.Click(`#custom-questions a[id^="q-remove-"]`)
		visit("question-remove", "#question-remove-warning")
		tab.Click(`#question-delete-form a[href="/admin/policy"]`) // cancel: the question stays
		visit("policy-question-added", "#custom-questions")

		tab.Click(`.admin-nav a[href="/admin/audit"]`)
		visit("audit", "#events")
		tab.Type("#f-type", "admin.policy.*")
		tab.Click("#audit-apply")
		visit("audit-filtered", `#f-type[value="admin.policy.*"]`)
		if n := chrometest.Eval[int](tab, `[...document.querySelectorAll("#events tbody tr code")].filter(c=>c.textContent.startsWith("admin.")&&!c.textContent.startsWith("admin.policy.")).length`); n != 0 {
			t.Errorf("%d rows outside the filter", n)
		}
		// The CSV link, fetched as the page's own request (its cookies):
		// the header row, and the policy change in it.
		body := chrometest.Eval[string](tab, `fetch(document.querySelector("#export-0").href).then(r=>r.ok&&r.headers.get("Content-Type").startsWith("text/csv")?r.text():"refused "+r.status)`)
		recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil || len(recs) < 2 || !slices.Contains(recs[0], "type") {
			t.Fatalf("CSV export: %v %q", err, body)
		}
		typ := slices.Index(recs[0], "type")
		if !slices.ContainsFunc(recs[1:], func(r []string) bool { return r[typ] == "admin.policy.set" }) {
			t.Errorf("the policy change is not in the export: %q", body)
		}

		tab.Click(`.admin-nav a[href="/admin/reports"]`)
		visit("reports", "#reports")
		ids := chrometest.Eval[[]string](tab, `[...document.querySelectorAll("#reports a[id^='report-']")].map(a=>a.id)`)
		if len(ids) < 2 {
			t.Fatalf("the report list links %v", ids)
		}
		for i, id := range ids {
			if i > 0 {
				tab.Click(`.admin-nav a[href="/admin/reports"]`)
				visit("reports", "#reports")
			}
			tab.Click("#" + id)
			visit(id, "#report-chart svg")
			// Drawn, styled by its own <style> (a blocked one would leave
			// the bars black): the background rect has the palette's fill.
			if fill := chrometest.Eval[string](tab, `getComputedStyle(document.querySelector("#report-chart svg rect.bg")).fill`); fill == "" || fill == "rgb(0, 0, 0)" {
				t.Errorf("%s: the chart's styles did not apply: fill %q", id, fill)
			}
		}
	})
}
