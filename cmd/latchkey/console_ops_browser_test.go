package main

import (
	"testing"

	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
)

// TestBrowserConsoleOpsJourney: in a real Chromium the admin changes the
// policy (a problem shown beside its field, then saved), filters the
// audit log, and reads a report whose inline chart the page's CSP lets
// draw and whose numbers are a table. Every page passes axe and fits a
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

		tab.Click(`.admin-nav a[href="/admin/audit"]`)
		visit("audit", "#events")
		tab.Type("#f-type", "admin.policy.*")
		tab.Click("#audit-apply")
		visit("audit-filtered", `#f-type[value="admin.policy.*"]`)
		if n := chrometest.Eval[int](tab, `[...document.querySelectorAll("#events tbody tr code")].filter(c=>c.textContent.startsWith("admin.")&&!c.textContent.startsWith("admin.policy.")).length`); n != 0 {
			t.Errorf("%d rows outside the filter", n)
		}

		tab.Click(`.admin-nav a[href="/admin/reports"]`)
		visit("reports", "#reports")
		tab.Click("#report-registrations")
		visit("report-registrations", "#report-chart svg")
		// Drawn, styled by its own <style> (a blocked one would leave
		// the bars black): the background rect has the palette's fill.
		if fill := chrometest.Eval[string](tab, `getComputedStyle(document.querySelector("#report-chart svg rect.bg")).fill`); fill == "" || fill == "rgb(0, 0, 0)" {
			t.Errorf("the chart's styles did not apply: fill %q", fill)
		}
		tab.Click(`a[href="/admin/reports"]`)
		tab.Click("#report-unregistered")
		visit("report-unregistered", "#report-chart svg")
	})
}
