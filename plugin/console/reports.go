package console

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/admin"
	"github.com/latchkeyid/latchkey/plugin/report"
	"github.com/latchkeyid/latchkey/plugin/report/chart"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

func (k *Console) reportList(c echo.Context, s *session) error {
	var page admin.Page[admin.ReportInfo]
	if _, err := k.api.do(c.Request().Context(), s, call{method: http.MethodGet, path: "/reports", out: &page}); err != nil {
		return err
	}
	return k.render(c, http.StatusOK, "admin-reports", s, map[string]any{"Section": "reports", "Reports": page.Items})
}

// reportAnswer is the API's JSON answer with its data left raw: its type
// depends on the report.
type reportAnswer struct {
	admin.ReportAnswer
	Data json.RawMessage `json:"data"`
}

func (k *Console) reportShow(c echo.Context, s *session) error {
	name := c.Param("name")
	if !slices.Contains(report.Names, name) {
		return &web.PageError{Status: http.StatusNotFound, Title: "consoleops.reports.none_title",
			Message: "consoleops.reports.none", Link: Path + "/reports", LinkText: "consoleops.nav.reports"}
	}
	ctx := c.Request().Context()
	l := i18n.From(ctx)
	q := url.Values{}
	for _, f := range []string{"since", "until", "cursor"} {
		if v := c.QueryParam(f); v != "" && len(v) <= 200 {
			q.Set(f, v)
		}
	}
	var out reportAnswer
	p, err := k.api.do(ctx, s, call{method: http.MethodGet, path: "/reports/" + name + "?" + q.Encode(), out: &out})
	if err != nil {
		return err
	}
	data := map[string]any{"Section": "reports", "Name": name, "Title": l.T("report." + name + ".title"),
		"Since": q.Get("since"), "Until": q.Get("until"), "Action": Path + "/reports/" + name,
		"RangeExamples": "2026-01-31, 2026-01-31T09:00:00Z, 30d"}
	if p != nil {
		data["Problems"] = p.claim("since", "until")
		data["Ranged"] = name != "coverage" && name != "unregistered"
		return k.render(c, http.StatusBadRequest, "admin-report", s, data)
	}
	q.Del("cursor")
	q.Set("format", "svg")
	q.Set("lang", l.Lang())
	var svg []byte
	if _, err := k.api.do(ctx, s, call{method: http.MethodGet, path: "/reports/" + name + "?" + q.Encode(), raw: &svg}); err != nil {
		return err
	}
	tables, err := reportTables(l, out)
	if err != nil {
		return err
	}
	if out.NextCursor != "" {
		data["Next"] = Path + "/reports/" + name + "?" + url.Values{"cursor": {out.NextCursor}}.Encode()
	}
	if out.Since != nil && q.Get("since") == "" {
		data["Since"], data["Until"] = formWhen(*out.Since), formWhen(*out.Until)
	}
	// Each table's scroll region is named by its caption: a report with
	// two tables has two distinguishable regions.
	type shown struct {
		Label string
		HTML  template.HTML
	}
	var html []shown
	for _, t := range tables {
		label := t.Caption
		if label == "" {
			label = l.T("consoleops.reports.numbers")
		}
		html = append(html, shown{label, template.HTML(t.HTML())}) // #nosec G203 -- chart.Table escapes every cell it writes
	}
	data["Ranged"], data["Chart"], data["Tables"] = out.Ranged, template.HTML(svg), html // #nosec G203 -- the SVG is this server's own chart (plugin/report/chart escapes its texts), read in-process from the admin API
	c.Response().Header().Set("Content-Security-Policy", svgCSP(string(svg)))
	return k.render(c, http.StatusOK, "admin-report", s, data)
}

// formWhen is a range's end as the form takes it: a date when it is a
// midnight (UTC), else the exact time.
func formWhen(t time.Time) string {
	if t = t.UTC(); t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}

// reportTables are a report's numbers as tables, worded like its chart:
// the chart's own table, then the lists of people it names.
func reportTables(l *i18n.Localizer, a reportAnswer) ([]chart.Table, error) {
	var rg report.Range
	if a.Since != nil {
		rg = report.Range{Since: *a.Since, Until: *a.Until}
	}
	tables, ok := reportTablers[a.Name]
	if !ok {
		return nil, nil
	}
	return tables(l, rg, a.Data)
}

// tabler reads a report's data and words it as tables.
type tabler func(l *i18n.Localizer, rg report.Range, data json.RawMessage) ([]chart.Table, error)

// tablesOf is a tabler for the data type T.
func tablesOf[T any](f func(l *i18n.Localizer, rg report.Range, v T) []chart.Table) tabler {
	return func(l *i18n.Localizer, rg report.Range, data json.RawMessage) ([]chart.Table, error) {
		var v T
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		return f(l, rg, v), nil
	}
}

var reportTablers = map[string]tabler{
	"registrations": tablesOf(func(l *i18n.Localizer, rg report.Range, v []report.MethodCount) []chart.Table {
		return []chart.Table{report.DrawRegistrations(l, rg, v).Table}
	}),
	"coverage": tablesOf(func(l *i18n.Localizer, _ report.Range, v report.Coverage) []chart.Table {
		return []chart.Table{report.DrawCoverage(l, v).Table}
	}),
	"unregistered": tablesOf(func(l *i18n.Localizer, _ report.Range, v report.People) []chart.Table {
		return []chart.Table{report.PeopleTable(l, v)}
	}),
	"recoveries": tablesOf(func(l *i18n.Localizer, rg report.Range, v []report.RecoveryDay) []chart.Table {
		return []chart.Table{report.DrawRecoveries(l, rg, v).Table}
	}),
	"funnel": tablesOf(func(l *i18n.Localizer, rg report.Range, v []report.FunnelStep) []chart.Table {
		return []chart.Table{report.DrawFunnel(l, rg, v).Table}
	}),
	"locked": tablesOf(func(l *i18n.Localizer, rg report.Range, v report.Locked) []chart.Table {
		return []chart.Table{report.DrawLocked(l, rg, v).Table,
			report.AccountTable(l, l.T("report.locked.accounts"), l.T("report.locked.until"), v.Accounts)}
	}),
	"fraud": tablesOf(func(l *i18n.Localizer, rg report.Range, v report.Fraud) []chart.Table {
		return []chart.Table{report.DrawFraud(l, rg, v).Table,
			report.AccountTable(l, l.T("report.fraud.accounts"), l.T("report.fraud.reported"), v.Accounts)}
	}),
	"phone": tablesOf(func(l *i18n.Localizer, rg report.Range, v []report.CountrySends) []chart.Table {
		return []chart.Table{report.DrawPhoneSends(l, rg, v).Table}
	}),
}

var (
	svgStyle     = regexp.MustCompile(`(?s)<style>(.*?)</style>`)
	svgStyleAttr = regexp.MustCompile(`style="([^"]*)"`)
)

// svgCSP is the page's CSP with the inline chart's styles allowed by
// their hashes, and nothing else inline.
func svgCSP(svg string) string {
	var hashes []string
	add := func(s string) {
		sum := sha256.Sum256([]byte(s))
		if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !slices.Contains(hashes, h) {
			hashes = append(hashes, h)
		}
	}
	for _, m := range svgStyle.FindAllStringSubmatch(svg, -1) {
		add(m[1])
	}
	for _, m := range svgStyleAttr.FindAllStringSubmatch(svg, -1) {
		add(strings.ReplaceAll(m[1], "&amp;", "&"))
	}
	if len(hashes) == 0 {
		return web.CSP
	}
	return strings.Replace(web.CSP, "style-src 'self'", "style-src 'self' 'unsafe-hashes' "+strings.Join(hashes, " "), 1)
}
