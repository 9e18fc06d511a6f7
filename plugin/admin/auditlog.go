package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/report"
	"github.com/latchkeyid/latchkey/provider/audit"
)

// typePattern is an event type, or a prefix of types ending in "*"
// ("admin.*"); outcomePattern an outcome word.
var (
	typePattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	outcomePattern = regexp.MustCompile(`^[a-z][a-z-]{0,15}$`)
)

// auditFilter reads the filters of the list and the export, every problem
// at once: user (an id), type (exact, or a prefix ending in *), outcome,
// since and until (RFC 3339 times or UTC dates; since included, until
// not).
func auditFilter(c echo.Context) (audit.Filter, []FieldError) {
	var f audit.Filter
	var errs []FieldError
	q := c.QueryParams()
	for k := range q {
		switch k {
		case "user", "type", "outcome", "since", "until", "limit", "cursor", "format":
			if len(q[k]) > 1 {
				errs = append(errs, FieldError{k, "give it once"})
			}
		default:
			errs = append(errs, FieldError{k, "unknown filter (user, type, outcome, since, until)"})
		}
	}
	if v := q.Get("user"); v != "" {
		if len(v) > audit.MaxID {
			errs = append(errs, FieldError{"user", fmt.Sprintf("a user id has at most %d characters", audit.MaxID)})
		}
		f.UserID = v
	}
	if v := q.Get("type"); v != "" {
		if prefix, ok := strings.CutSuffix(v, "*"); ok && typePattern.MatchString(prefix) {
			f.TypePrefix = prefix
		} else if typePattern.MatchString(v) {
			f.Type = v
		} else {
			errs = append(errs, FieldError{"type", fmt.Sprintf("%q is not an event type (signin.failed) or a prefix of types ending in * (admin.*)", v)})
		}
	}
	if v := q.Get("outcome"); v != "" {
		if !outcomePattern.MatchString(v) {
			errs = append(errs, FieldError{"outcome", fmt.Sprintf("%q is not an outcome (ok, fail, blocked, denied, failed)", v)})
		}
		f.Outcome = v
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := report.ParseWhen(v)
			if err != nil {
				errs = append(errs, FieldError{p.name, err.Error()})
			}
			*p.dst = t
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		errs = append(errs, FieldError{"until", "must be after since"})
	}
	return f, errs
}

// describeFilter is a filter as an audit detail.
func describeFilter(f audit.Filter) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+safeID(v))
		}
	}
	add("user", f.UserID)
	add("type", f.Type)
	if f.TypePrefix != "" {
		add("type", f.TypePrefix+"*")
	}
	add("outcome", f.Outcome)
	if !f.Since.IsZero() {
		add("since", f.Since.UTC().Format(time.RFC3339))
	}
	if !f.Until.IsZero() {
		add("until", f.Until.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, " ")
}

func (a *API) listAudit(c echo.Context) error {
	f, errs := auditFilter(c)
	limit, lerr := limitParam(c)
	if lerr != nil {
		errs = append(errs, *lerr)
	}
	f.Limit = limit
	if c.QueryParam("format") != "" {
		errs = append(errs, FieldError{"format", "only the export takes a format"})
	}
	if len(errs) > 0 {
		return invalidFields("the query has problems", errs...)
	}
	page, err := a.d.Audit.Page(c.Request().Context(), f, c.QueryParam("cursor"))
	if errors.Is(err, audit.ErrBadCursor) {
		return invalidFields("the query has problems", FieldError{"cursor", "is not a cursor this API returned"})
	}
	if err != nil {
		return err
	}
	out := Page[audit.Event]{Items: page.Events, NextCursor: page.Next}
	if out.Items == nil {
		out.Items = []audit.Event{}
	}
	if err := a.record(c, "admin.audit.read", "ok", describeFilter(f)); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// Export media types.
const (
	MIMECSV   = "text/csv"
	MIMEJSONL = "application/jsonl"
)

// exportFormat is ?format=, else the Accept header, else an error.
func exportFormat(c echo.Context) (string, *FieldError) {
	switch v := c.QueryParam("format"); v {
	case audit.CSV, audit.JSONL:
		return v, nil
	case "":
	default:
		return "", &FieldError{"format", "must be csv or jsonl"}
	}
	accept := c.Request().Header.Get("Accept")
	switch {
	case strings.Contains(accept, MIMECSV):
		return audit.CSV, nil
	case strings.Contains(accept, MIMEJSONL), strings.Contains(accept, "application/x-ndjson"):
		return audit.JSONL, nil
	}
	return "", &FieldError{"format", "give format=csv or format=jsonl (or Accept: text/csv or application/jsonl)"}
}

// exportAudit streams every matching event, newest first: the log is read
// in keyset pages and written as it is read, so an export of millions of
// events holds one page in memory. The export itself is an audit event,
// recorded when it ends with the number of events written.
func (a *API) exportAudit(c echo.Context) error {
	f, errs := auditFilter(c)
	format, ferr := exportFormat(c)
	if ferr != nil {
		errs = append(errs, *ferr)
	}
	for _, k := range []string{"limit", "cursor"} {
		if c.QueryParam(k) != "" {
			errs = append(errs, FieldError{k, "an export has every matching event; it does not page"})
		}
	}
	if len(errs) > 0 {
		return invalidFields("the query has problems", errs...)
	}
	mt, ext := MIMECSV+"; charset=utf-8", "csv"
	if format == audit.JSONL {
		mt, ext = MIMEJSONL, "jsonl"
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, mt)
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="audit-%s.%s"`, a.d.Now().UTC().Format("20060102T150405Z"), ext))
	c.Response().WriteHeader(http.StatusOK)
	n, err := a.d.Audit.Export(c.Request().Context(), c.Response(), format, f)
	outcome := "ok"
	if err != nil {
		// The status is sent; the cut-off body is the client's sign.
		outcome = "failed"
		slog.WarnContext(c.Request().Context(), "admin api: audit export cut off", "events", n, "err", err)
	}
	// Recorded even when the client went away mid-export.
	c.SetRequest(c.Request().WithContext(context.WithoutCancel(c.Request().Context())))
	return a.record(c, "admin.audit.export", outcome, fmt.Sprintf("format=%s events=%d %s", format, n, describeFilter(f)))
}

// AuditSettings is how long the audit log keeps events.
type AuditSettings struct {
	RetentionDays int    `json:"retention_days"`
	Setting       string `json:"setting"`
}

func (a *API) auditSettings(c echo.Context) error {
	return c.JSON(http.StatusOK, AuditSettings{RetentionDays: a.d.Ops.AuditRetentionDays, Setting: "LATCHKEY_AUDIT_RETENTION_DAYS"})
}
