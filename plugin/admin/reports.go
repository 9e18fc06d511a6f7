package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/report"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// ReportInfo names a report and what it takes.
type ReportInfo struct {
	Name string `json:"name"`
	// Ranged: the report covers a time range (the others are snapshots).
	Ranged bool `json:"ranged"`
	// Paged: the report is a list read page by page.
	Paged bool `json:"paged"`
}

func reportInfo(name string) ReportInfo {
	return ReportInfo{Name: name, Ranged: name != "coverage" && name != "unregistered", Paged: name == "unregistered"}
}

func (a *API) listReports(c echo.Context) error {
	out := Page[ReportInfo]{Items: []ReportInfo{}}
	for _, n := range report.Names {
		out.Items = append(out.Items, reportInfo(n))
	}
	return c.JSON(http.StatusOK, out)
}

// ReportAnswer is a report as JSON: its numbers are the ones `latchkey
// report NAME --format json` prints.
type ReportAnswer struct {
	ReportInfo
	Since      *time.Time `json:"since,omitempty"`
	Until      *time.Time `json:"until,omitempty"`
	Data       any        `json:"data"`
	NextCursor string     `json:"next_cursor,omitempty"`
}

// MIMESVG is the media type of a chart.
const MIMESVG = "image/svg+xml"

// getReport answers one report as JSON, or as its SVG chart with
// ?format=svg or Accept: image/svg+xml. since and until take what
// `latchkey report --since/--until` takes (default: the last 30 days);
// unregistered pages with limit and cursor.
func (a *API) getReport(c echo.Context) error {
	name := c.Param("name")
	if !slices.Contains(report.Names, name) {
		return notFound(fmt.Sprintf("no report %q (reports: %s)", safeID(name), strings.Join(report.Names, ", ")))
	}
	info := reportInfo(name)
	var errs []FieldError
	since := c.QueryParam("since")
	if since == "" {
		since = "30d"
	}
	rg, err := report.ParseRange(since, c.QueryParam("until"), a.d.Now())
	var re *report.RangeError
	switch {
	case !info.Ranged:
		for _, k := range []string{"since", "until"} {
			if c.QueryParam(k) != "" {
				errs = append(errs, FieldError{k, "this report is a snapshot of now; it takes no range"})
			}
		}
	case errors.As(err, &re):
		for _, p := range re.Problems {
			errs = append(errs, FieldError{p.Field, p.Message})
		}
	}
	format := c.QueryParam("format")
	switch format {
	case "json", "svg":
	case "":
		format = "json"
		if strings.Contains(c.Request().Header.Get("Accept"), MIMESVG) {
			format = "svg"
		}
	default:
		errs = append(errs, FieldError{"format", "must be json or svg"})
	}
	l := i18n.English()
	if v := c.QueryParam("lang"); v != "" {
		var ok bool
		if l, ok = i18n.For(v); !ok {
			errs = append(errs, FieldError{"lang", "must be one of en, de, fr, es, ja, ar"})
		}
	}
	after, limit := "", 0
	if info.Paged {
		var perr error
		if after, limit, perr = pageParams(c); perr != nil {
			var p *Problem
			if errors.As(perr, &p) {
				errs = append(errs, p.Errors...)
			}
		}
	} else {
		for _, k := range []string{"limit", "cursor"} {
			if c.QueryParam(k) != "" {
				errs = append(errs, FieldError{k, "only the unregistered list pages"})
			}
		}
	}
	if len(errs) > 0 {
		return invalidFields("the query has problems", errs...)
	}
	res, err := a.d.Ops.Reports.Run(c.Request().Context(), l, report.Request{Name: name, Range: rg, After: after, Limit: limit})
	if err != nil {
		return err
	}
	detail := fmt.Sprintf("report=%s format=%s", name, format)
	if info.Ranged {
		detail += " since=" + rg.Since.UTC().Format(time.RFC3339) + " until=" + rg.Until.UTC().Format(time.RFC3339)
	}
	if err := a.record(c, "admin.report.read", "ok", detail); err != nil {
		return err
	}
	if format == "svg" {
		return c.Blob(http.StatusOK, MIMESVG+"; charset=utf-8", []byte(res.Chart.SVG))
	}
	out := ReportAnswer{ReportInfo: info, Data: res.Data}
	if info.Ranged {
		s, u := rg.Since.UTC(), rg.Until.UTC()
		out.Since, out.Until = &s, &u
	}
	if p, ok := res.Data.(report.People); ok {
		if p.Next != "" {
			out.NextCursor = encodeCursor(p.Next)
		}
		p.Next = ""
		out.Data = p
	}
	return c.JSON(http.StatusOK, out)
}
