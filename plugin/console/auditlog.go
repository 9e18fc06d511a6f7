package console

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/admin"
	"github.com/latchkeyid/latchkey/provider/audit"
)

// auditFilters are the audit log's filters, as the API and the page's
// form name them.
var (
	auditFilters = []string{"user", "type", "outcome", "since", "until"}
	auditFields  = []auditField{{field{"user", "consoleops.audit.user"}, "consoleops.audit.user_hint", ""},
		{field{"type", "consoleops.audit.type"}, "consoleops.audit.type_hint", "signin.failed, admin.*"},
		{field{"outcome", "consoleops.audit.outcome"}, "consoleops.audit.outcome_hint", "ok, failed, blocked, denied"},
		{field{"since", "consoleops.audit.since"}, "consoleops.audit.since_hint", "2026-01-31, 2026-01-31T09:00:00Z"},
		{field{"until", "consoleops.audit.until"}, "consoleops.audit.until_hint", "2026-02-01"}}
)

// link is a link's text and address.
type link struct{ Text, Href string }

// auditField is a filter of the audit log's form.
type auditField struct {
	field
	Hint     string
	Examples string // codes, the same in every language
}

// auditQuery is the filters the browser gave, empty ones left out, each
// at most once and of a sane length (the API checks the rest).
func auditQuery(c echo.Context) url.Values {
	q := url.Values{}
	for _, k := range auditFilters {
		if v := c.QueryParam(k); v != "" && len(v) <= 200 {
			q.Set(k, v)
		}
	}
	return q
}

func (k *Console) auditList(c echo.Context, s *session) error {
	q := auditQuery(c)
	api := url.Values{"limit": {"50"}}
	for f, v := range q {
		api[f] = v
	}
	if cur := c.QueryParam("cursor"); cur != "" && len(cur) < 200 {
		api.Set("cursor", cur)
	}
	var page admin.Page[audit.Event]
	p, err := k.api.do(c.Request().Context(), s, call{method: http.MethodGet, path: "/audit/events?" + api.Encode(), out: &page})
	if err != nil {
		return err
	}
	status, next := http.StatusOK, ""
	if p != nil {
		status = http.StatusBadRequest
		p.claim(auditFilters...)
	} else if page.NextCursor != "" {
		n := url.Values{"cursor": {page.NextCursor}}
		for f, v := range q {
			n[f] = v
		}
		next = Path + "/audit?" + n.Encode()
	}
	export := func(format string) string {
		e := url.Values{"format": {format}}
		for f, v := range q {
			e[f] = v
		}
		return Path + "/audit/export?" + e.Encode()
	}
	return k.render(c, status, "admin-audit", s, map[string]any{"Section": "audit", "Events": page.Items,
		"Filter": q, "Filters": auditFields, "Next": next, "Problems": p,
		"Exports": []link{{"CSV", export(audit.CSV)}, {"JSON Lines", export(audit.JSONL)}}})
}

// auditExport streams the API's export through, with the same filters.
func (k *Console) auditExport(c echo.Context, s *session) error {
	q := auditQuery(c)
	format := c.QueryParam("format")
	if format != audit.CSV && format != audit.JSONL {
		format = audit.CSV
	}
	q.Set("format", format)
	p, err := k.api.stream(c.Request().Context(), s, "/audit/export?"+q.Encode(), c.Response())
	if err != nil || p == nil {
		return err
	}
	c.Request().URL.RawQuery = q.Encode()
	return k.auditList(c, s)
}
