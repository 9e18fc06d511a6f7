package ui

import (
	"html/template"
	"net/url"
	"time"

	"github.com/latchkeyid/latchkey/ui/i18n"
)

// The policy, audit log and report pages with data, as the console
// gives it, so every word they show is checked in every language.
func init() {
	label := func(name, id string) map[string]string { return map[string]string{"Name": name, "Label": id} }
	policyPage := func(l *i18n.Localizer) any {
		return consolePage(l, "policy", map[string]any{
			"Form": map[string]any{"ETag": `"v1"`, "Scope": "group", "Group": "staff", "Methods": map[string]bool{"totp": true},
				"Numbers": map[string]string{"required": "two"}, "Switches": map[string]bool{"notify_user": true},
				"Helpdesk": "https://help.example", "Phones": "DE, FR"},
			"Methods": []map[string]any{{"Method": "totp", "Label": l.T("method.totp.name"), "Available": true},
				{"Method": "mobile", "Label": l.T("method.mobile.name"), "Available": false}},
			"Numbers":  []map[string]string{label("required", "consoleops.policy.required"), label("cooldown_hours", "consoleops.policy.cooldown_hours")},
			"Switches": []map[string]string{label("notify_user", "consoleops.policy.notify_user")},
			"Scopes":   []map[string]string{label("all", "consoleops.policy.scope_all"), label("group", "consoleops.policy.scope_group")},
			"View": map[string]any{"CustomQuestions": []map[string]any{{"ID": "cabcdefghijklmnop", "Text": "Name of your first ship?",
				"Translations": map[string]string{"en": "Name of your first ship?"}}}},
			"Problems": consoleProblems{Detail: "the policy has problems", Fields: map[string][]string{"required": {"must be a number"}}},
			"Notice":   l.T("consoleops.policy.saved"), "Action": "/admin/policy", "NewQuestion": "/admin/policy/questions/new"})
	}
	auditPage := func(l *i18n.Localizer) any {
		return consolePage(l, "audit", map[string]any{
			"Events": []map[string]any{{"Time": time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC), "Type": "admin.policy.set",
				"Outcome": "ok", "UserID": "01ADMIN", "IP": "192.0.2.1", "Detail": "reconfirm_days: 0 -> 90"}},
			"Filter": url.Values{"type": {"admin.*"}}, "Next": "/admin/audit?cursor=x",
			"Filters": []map[string]string{{"Name": "type", "Label": "consoleops.audit.type", "Hint": "consoleops.audit.type_hint", "Examples": "signin.failed, admin.*"}},
			"Exports": []map[string]string{{"Text": "CSV", "Href": "/admin/audit/export?format=csv"}}})
	}
	reportPage := func(l *i18n.Localizer) any {
		return consolePage(l, "reports", map[string]any{"Name": "registrations", "Title": l.T("report.registrations.title"),
			"Ranged": true, "Since": "2026-11-01", "Until": "2026-12-01", "Action": "/admin/reports/registrations",
			"Chart": template.HTML(`<svg xmlns="http://www.w3.org/2000/svg" role="img"></svg>`), "RangeExamples": "2026-01-31, 30d",
			"Tables": []map[string]any{{"Label": l.T("report.registrations.title"),
				"HTML": template.HTML("<table><caption>" + template.HTMLEscapeString(l.T("report.registrations.title")) + "</caption></table>")}},
			"Next": "/admin/reports/unregistered?cursor=x"})
	}
	pageCases = append(pageCases,
		pageCase{"admin-policy", "with-problems", policyPage},
		pageCase{"admin-audit", "events", auditPage},
		pageCase{"admin-reports", "list", func(l *i18n.Localizer) any {
			return consolePage(l, "reports", map[string]any{"Reports": []map[string]any{{"Name": "registrations", "Ranged": true}, {"Name": "coverage"}}})
		}},
		pageCase{"admin-report", "ranged", reportPage},
		pageCase{"admin-question-form", "edit-with-problems", func(l *i18n.Localizer) any {
			return consolePage(l, "policy", map[string]any{"ID": "cabcdefghijklmnop", "Action": "/admin/policy/questions/cabcdefghijklmnop/edit",
				"Texts": []map[string]string{{"Field": "text_en", "Lang": "en", "Name": "English", "Text": ""},
					{"Field": "text_de", "Lang": "de", "Name": "Deutsch", "Text": "Wo war unser erstes Büro?"}},
				"Problems": consoleProblems{Detail: "the question has problems", Fields: map[string][]string{"text_en": {"the default language's text is required"}}},
				"Back":     "/admin/policy"})
		}},
		pageCase{"admin-question-delete", "confirm", func(l *i18n.Localizer) any {
			return consolePage(l, "policy", map[string]any{"Question": map[string]any{"ID": "cabcdefghijklmnop", "Text": "Name of your first ship?"},
				"Action": "/admin/policy/questions/cabcdefghijklmnop/delete", "Back": "/admin/policy"})
		}},
	)
}
