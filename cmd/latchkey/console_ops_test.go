package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/latchkeyid/latchkey/plugin/policy"
	reports "github.com/latchkeyid/latchkey/plugin/report"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/user"
)

// storedPolicy is the policy as the store holds it now.
func (e *consoleEnv) storedPolicy(t *testing.T) policy.Policy {
	t.Helper()
	p, err := policy.NewStore(e.x.Server.DB, policy.Policy{}).Get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// policyValues are the policy page's choices a goquery form walk does not
// send by itself (the scope's select).
func policyValues(p *pt.Page, more map[string]string) map[string]string {
	v := map[string]string{"scope": p.Doc.Find("#scope option[selected]").AttrOr("value", "")}
	for k, x := range more {
		v[k] = x
	}
	return v
}

// The policy page changes the policy through the API: stored, audited
// with the admin's id; every problem shown at once beside its field; a
// page saved after someone else's save is told so and changes nothing.
func TestConsolePolicy(t *testing.T) {
	eachConsole(t, func(t *testing.T, e *consoleEnv, b *pt.Browser) {
		s := e.x.Server
		page := e.page(t, b, "/admin/policy")
		if n := page.Doc.Find(`#policy-form input[name="methods"]`).Length(); n != len(policy.Known) {
			t.Fatalf("%d method switches, want %d", n, len(policy.Known))
		}
		if etag := page.Doc.Find(`#policy-form input[name="etag"]`).AttrOr("value", ""); !strings.HasPrefix(etag, `"`) {
			t.Fatalf("the page carries no ETag: %q", etag)
		}
		before := e.storedPolicy(t)

		t.Run("every-problem-at-once", func(t *testing.T) {
			r := b.Submit(page, "#policy-form", policyValues(page, map[string]string{"required": "two",
				"reconfirm_days": "soon", "helpdesk_url": "javascript:alert(1)"}))
			if r.Page == nil || r.Page.Status != http.StatusBadRequest {
				t.Fatalf("want 400, got %s", r)
			}
			for _, f := range []string{"required", "reconfirm_days", "helpdesk_url"} {
				if r.Page.Doc.Find("#err-"+f).Length() == 0 || r.Page.Doc.Find("#"+f+`[aria-invalid="true"]`).Length() == 0 {
					t.Errorf("no problem beside %s:\n%s", f, r.Page.Text("main"))
				}
			}
			if got := r.Page.Doc.Find("#required").AttrOr("value", ""); got != "two" {
				t.Errorf("the refused form lost what was typed: required=%q", got)
			}
			if after := e.storedPolicy(t); after.ReconfirmDays != before.ReconfirmDays || after.HelpdeskURL != before.HelpdeskURL {
				t.Errorf("a refused form changed the policy: %+v", after)
			}
		})

		t.Run("saved-and-audited", func(t *testing.T) {
			r := b.Submit(e.page(t, b, "/admin/policy"), "#policy-form", policyValues(page, map[string]string{
				"reconfirm_days": "90", "cooldown_hours": "12", "helpdesk_url": "https://help.example/reset", "notify_admins": "true"}))
			if r.Page == nil || r.Page.URL.RequestURI() != "/admin/policy?done=saved" || r.Page.Doc.Find("#notice").Length() == 0 {
				t.Fatalf("save: %s", r)
			}
			p := e.storedPolicy(t)
			if p.ReconfirmDays != 90 || p.CoolDownHours != 12 || p.HelpdeskURL != "https://help.example/reset" || !p.NotifyAdmins {
				t.Fatalf("stored policy: %+v", p)
			}
			if r.Page.Doc.Find("#reconfirm_days").AttrOr("value", "") != "90" {
				t.Error("the page does not show the saved policy")
			}
			var ok []audit.Event
			for _, ev := range s.AuditEvents(t, "admin.policy.set") {
				if ev.Outcome == "ok" {
					ok = append(ok, ev)
				}
			}
			if len(ok) != 1 || ok[0].UserID != e.admin.ID || !strings.Contains(ok[0].Detail, "reconfirm_days") {
				t.Fatalf("audit of the save: %+v", ok)
			}
		})

		t.Run("stale-page-is-told", func(t *testing.T) {
			first, second := e.page(t, b, "/admin/policy"), e.page(t, b, "/admin/policy") // two tabs
			if r := b.Submit(first, "#policy-form", policyValues(first, map[string]string{"cooldown_hours": "6"})); r.Page == nil ||
				r.Page.URL.Query().Get("done") != "saved" {
				t.Fatalf("first tab's save: %s", r)
			}
			r := b.Submit(second, "#policy-form", policyValues(second, map[string]string{"cooldown_hours": "48"}))
			if r.Page == nil || r.Page.Status != http.StatusConflict || !strings.Contains(r.Page.Text("#form-problems"), "Someone else changed the policy") {
				t.Fatalf("want the conflict, got %s", r)
			}
			if p := e.storedPolicy(t); p.CoolDownHours != 6 {
				t.Fatalf("the stale save overwrote the other one: cooldown %d", p.CoolDownHours)
			}
			if got := r.Page.Doc.Find("#cooldown_hours").AttrOr("value", ""); got != "6" {
				t.Errorf("the conflict page shows cooldown %q, want the policy as it is now (6)", got)
			}
			// The page it shows is current: saving it works.
			if again := b.Submit(r.Page, "#policy-form", policyValues(r.Page, map[string]string{"cooldown_hours": "48"})); again.Page == nil ||
				again.Page.URL.Query().Get("done") != "saved" || e.storedPolicy(t).CoolDownHours != 48 {
				t.Fatalf("saving the reloaded page: %s", again)
			}
			if n := len(s.AuditEvents(t, "admin.policy.set")); n < 4 {
				t.Errorf("%d policy records, want the refused, saved and stale tries too", n)
			}
		})
	})
}

// The audit log page filters through the API, pages with its cursor
// keeping the filters, and its export links stream the API's export with
// the same filters.
func TestConsoleAuditLog(t *testing.T) {
	eachConsole(t, func(t *testing.T, e *consoleEnv, b *pt.Browser) {
		s := e.x.Server
		const subject, n = "audit-page-user", 57 // more than a page of 50
		for i := range n {
			outcome := "ok"
			if i%3 == 0 {
				outcome = "failed"
			}
			if err := s.Audit.Record(t.Context(), audit.Event{Type: "test.ping", UserID: subject, Outcome: outcome,
				IP: "192.0.2.7", Detail: fmt.Sprintf("n=%d, \"quoted\"", i)}); err != nil {
				t.Fatal(err)
			}
		}
		const evil = `<img src=x onerror=alert(1)>`
		if err := s.Audit.Record(t.Context(), audit.Event{Type: "test.evil", UserID: "evil-user", Outcome: "ok", Detail: evil}); err != nil {
			t.Fatal(err)
		}
		if p := e.page(t, b, "/admin/audit?user=evil-user"); strings.Contains(p.Body, evil) || p.Text("#events td:last-child") != evil {
			t.Fatalf("a logged detail is not shown as text: %s", p.Text("#events"))
		}
		rows := func(p *pt.Page) *goquery.Selection { return p.Doc.Find("#events tbody tr") }

		filter := url.Values{"user": {subject}, "type": {"test.*"}}
		first := e.page(t, b, "/admin/audit?"+filter.Encode())
		next := first.Doc.Find("#audit-next").AttrOr("href", "")
		if rows(first).Length() != 50 || next == "" {
			t.Fatalf("first page: %d rows, next %q", rows(first).Length(), next)
		}
		second := e.page(t, b, next)
		if rows(second).Length() != n-50 || second.Doc.Find("#audit-next").Length() != 0 {
			t.Fatalf("second page: %d rows", rows(second).Length())
		}
		if got := second.Doc.Find("#f-user").AttrOr("value", ""); got != subject {
			t.Errorf("the next page lost the filter: user=%q", got)
		}

		failed := e.page(t, b, "/admin/audit?"+url.Values{"user": {subject}, "outcome": {"failed"}}.Encode())
		if got := rows(failed).Length(); got != (n+2)/3 {
			t.Errorf("outcome filter: %d rows, want %d", got, (n+2)/3)
		}
		rows(failed).Each(func(_ int, r *goquery.Selection) {
			if !strings.Contains(r.Text(), "failed") {
				t.Errorf("a row that is not failed: %s", r.Text())
			}
		})

		r := b.Get(s.URL + "/admin/audit?" + url.Values{"type": {"not a type!"}, "since": {"last tuesday"}}.Encode())
		if r.Page == nil || r.Page.Status != http.StatusBadRequest || r.Page.Doc.Find("#err-type").Length() == 0 ||
			r.Page.Doc.Find("#err-since").Length() == 0 {
			t.Fatalf("bad filters: want both problems beside their fields, got %s", r)
		}

		t.Run("export-csv", func(t *testing.T) {
			href := first.Doc.Find("#export-0").AttrOr("href", "")
			res := b.Do(http.MethodGet, s.URL+href, nil)
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
				!strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
				t.Fatalf("export %s: %d %v", href, res.StatusCode, res.Header)
			}
			recs, err := csv.NewReader(res.Body).ReadAll()
			if err != nil || len(recs) != n+1 {
				t.Fatalf("CSV: %d records (%v), want a header and %d", len(recs), err, n)
			}
			col := map[string]int{}
			for i, h := range recs[0] {
				col[h] = i
			}
			seen := map[string]bool{}
			for _, rec := range recs[1:] {
				if rec[col["user_id"]] != subject || rec[col["type"]] != "test.ping" {
					t.Fatalf("a record outside the filter: %v", rec)
				}
				seen[rec[col["detail"]]] = true
			}
			if !seen[`n=0, "quoted"`] || len(seen) != n {
				t.Errorf("details did not round-trip: %d distinct", len(seen))
			}
		})

		t.Run("export-jsonl", func(t *testing.T) {
			href := failed.Doc.Find("#export-1").AttrOr("href", "")
			res := b.Do(http.MethodGet, s.URL+href, nil)
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			lines := strings.Split(strings.TrimSpace(string(body)), "\n")
			if res.StatusCode != http.StatusOK || len(lines) != (n+2)/3 {
				t.Fatalf("JSON Lines export: %d, %d lines", res.StatusCode, len(lines))
			}
			for _, l := range lines {
				var ev audit.Event
				if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Outcome != "failed" || ev.UserID != subject {
					t.Fatalf("line %q: %v", l, err)
				}
			}
		})

		var exports int
		for _, ev := range s.AuditEvents(t, "admin.audit.export") {
			if ev.UserID == e.admin.ID && strings.Contains(ev.Detail, `user="`+subject+`"`) {
				exports++
			}
		}
		if exports != 2 {
			t.Errorf("%d export records of the admin, want 2: %+v", exports, s.AuditEvents(t, "admin.audit.export"))
		}
	})
}

// Every report page shows the API's chart inline, allowed by the page's
// CSP, and its numbers as a table; ranged reports take a date range,
// every problem shown; the unregistered list pages.
func TestConsoleReports(t *testing.T) {
	eachConsole(t, func(t *testing.T, e *consoleEnv, b *pt.Browser) {
		s := e.x.Server
		for i := range 52 { // a page of 50 and more, none with a method
			if _, err := s.Users.Create(t.Context(), user.NewUser{Username: fmt.Sprintf("nomethod%02d", i),
				Email: fmt.Sprintf("nomethod%02d@example.com", i)}); err != nil {
				t.Fatal(err)
			}
		}
		list := e.page(t, b, "/admin/reports")
		for _, name := range reports.Names {
			t.Run(name, func(t *testing.T) {
				if list.Doc.Find(`#report-`+name).Length() != 1 {
					t.Errorf("the list has no link to %s", name)
				}
				r := b.Get(s.URL + "/admin/reports/" + name)
				if r.Page == nil || r.Page.Status != http.StatusOK {
					t.Fatalf("%s: %s", name, r)
				}
				p := r.Page
				if p.Doc.Find("#report-chart > svg[role=img] > title").Length() != 1 || p.Doc.Find("#report-chart img").Length() != 0 {
					t.Errorf("no inline chart")
				}
				if p.Doc.Find(".report-table table caption").Length() == 0 || p.Doc.Find(".report-table table thead th").Length() < 2 {
					t.Errorf("no table of the numbers")
				}
				if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "style-src 'self' 'unsafe-hashes' 'sha256-") ||
					strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'self';") {
					t.Errorf("CSP %q", csp)
				}
				ranged := name != "coverage" && name != "unregistered"
				if got := p.Doc.Find("#report-range").Length() == 1; got != ranged {
					t.Errorf("range form shown %v, want %v", got, ranged)
				}
			})
		}

		r := b.Get(s.URL + "/admin/reports/recoveries?" + url.Values{"since": {"the dawn of time"}, "until": {"never"}}.Encode())
		if r.Page == nil || r.Page.Status != http.StatusBadRequest || r.Page.Doc.Find("#err-since").Length() == 0 ||
			r.Page.Doc.Find("#err-until").Length() == 0 {
			t.Fatalf("bad range: want both problems, got %s", r)
		}
		if r := b.Submit(e.page(t, b, "/admin/reports/registrations"), "#report-range", map[string]string{"since": "7d", "until": ""}); r.Page == nil ||
			r.Page.Status != http.StatusOK || r.Page.Doc.Find("#report-chart svg").Length() != 1 {
			t.Fatalf("a 7-day range: %s", r)
		}

		first := e.page(t, b, "/admin/reports/unregistered")
		next := first.Doc.Find("#report-next").AttrOr("href", "")
		people := func(p *pt.Page) int { return p.Doc.Find(".report-table tbody tr").Length() }
		if people(first) != 50 || next == "" {
			t.Fatalf("unregistered, first page: %d people, next %q", people(first), next)
		}
		if second := e.page(t, b, next); people(second) < 2 || second.Doc.Find("#report-next").Length() != 0 {
			t.Fatalf("unregistered, second page: %d people", people(second))
		}
		if r := b.Get(s.URL + "/admin/reports/nosuch"); r.Page == nil || r.Page.Status != http.StatusNotFound {
			t.Fatalf("an unknown report: %s", r)
		}
	})
}

// A policy form without its version, or with a forged one, changes
// nothing: it is stale, never a blind overwrite nor a server error.
func TestConsolePolicyForgedVersion(t *testing.T) {
	e := startConsole(t, dbtest.URL(t, dbtest.SQLite))
	b := e.signedIn(t)
	before := e.storedPolicy(t)
	for _, etag := range []string{"", "*", "\"x\"\r\nX-Evil: 1", strings.Repeat("a", 500)} {
		page := e.page(t, b, "/admin/policy")
		r := b.Submit(page, "#policy-form", policyValues(page, map[string]string{"etag": etag, "cooldown_hours": "99"}))
		if r.Page == nil || r.Page.Status != http.StatusConflict {
			t.Errorf("etag %q: want the conflict page, got %s", etag, r)
		}
	}
	if e.storedPolicy(t).CoolDownHours != before.CoolDownHours {
		t.Fatal("a form without its version changed the policy")
	}
}
