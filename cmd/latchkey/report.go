package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	reports "github.com/latchkeyid/latchkey/plugin/report"
	"github.com/latchkeyid/latchkey/plugin/report/chart"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

type reportCmd struct {
	Name   string `arg:"" enum:"registrations,coverage,unregistered,recoveries,funnel,locked,fraud,phone" help:"The report: registrations (by method), coverage (registered for reset or not), unregistered (who is not, to chase), recoveries (per day, with success rate), funnel (where recoveries stop), locked, fraud (\"This wasn't me\" reports), phone (sends by country calling code)."`
	Since  string `default:"30d" help:"Start of the period: a duration before now (30d, 36h) or a UTC date or time (2026-03-01, 2026-03-01T12:00:00Z)." placeholder:"WHEN"`
	Until  string `help:"End of the period, not included: a UTC date or time (default: now)." placeholder:"WHEN"`
	Format string `default:"text" enum:"text,json,svg" help:"text (a table), json, or svg (the chart; coverage for unregistered)."`
	Lang   string `default:"en" help:"Language of the texts, numbers and dates (en, de, fr, es, ja, ar)."`
	After  string `help:"unregistered: continue after this user ID (the next cursor the previous page printed)." placeholder:"CURSOR"`
	Limit  int    `default:"100" help:"unregistered: at most this many users (max 1000)."`
}

func (c *reportCmd) Run(a *app) error {
	now := time.Now().UTC()
	rg, err := parseRange(c.Since, c.Until, now)
	if err != nil {
		return usageError{err}
	}
	if c.Limit < 1 || c.Limit > reports.MaxPage {
		return usageError{fmt.Errorf("--limit must be between 1 and %d", reports.MaxPage)}
	}
	l, ok := i18n.For(c.Lang)
	if !ok {
		return usageError{fmt.Errorf("--lang %q: not one of en, de, fr, es, ja, ar", c.Lang)}
	}
	g, err := a.database()
	if err != nil {
		return err
	}
	r, ctx := reports.New(g), a.ctx
	var data any
	var drawn chart.Chart
	var lists []list
	switch c.Name {
	case "registrations":
		rows, err := r.Registrations(ctx, rg)
		if err != nil {
			return err
		}
		data, drawn = rows, reports.DrawRegistrations(l, rg, rows)
	case "coverage", "unregistered":
		cov, err := r.Coverage(ctx)
		if err != nil {
			return err
		}
		data, drawn = cov, reports.DrawCoverage(l, cov)
		if c.Name == "unregistered" {
			page, err := r.Unregistered(ctx, c.After, c.Limit)
			if err != nil {
				return err
			}
			data = page
			lists = append(lists, peopleList(l, page))
		}
	case "recoveries":
		days, err := r.Recoveries(ctx, rg)
		if err != nil {
			return err
		}
		data, drawn = days, reports.DrawRecoveries(l, rg, days)
	case "funnel":
		steps, err := r.Funnel(ctx, rg)
		if err != nil {
			return err
		}
		data, drawn = steps, reports.DrawFunnel(l, rg, steps)
	case "locked":
		lk, err := r.Locked(ctx, rg)
		if err != nil {
			return err
		}
		data, drawn = lk, reports.DrawLocked(l, rg, lk)
		lists = append(lists, accountList(l, l.T("report.locked.accounts"), l.T("report.locked.until"), lk.Accounts))
	case "fraud":
		f, err := r.Fraud(ctx, rg)
		if err != nil {
			return err
		}
		data, drawn = f, reports.DrawFraud(l, rg, f)
		lists = append(lists, accountList(l, l.T("report.fraud.accounts"), l.T("report.fraud.reported"), f.Accounts))
	case "phone":
		rows, err := r.PhoneSends(ctx, rg)
		if err != nil {
			return err
		}
		data, drawn = rows, reports.DrawPhoneSends(l, rg, rows)
	}
	switch c.Format {
	case "json":
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(data)
	case "svg":
		_, err := io.WriteString(a.stdout, drawn.SVG+"\n")
		return err
	}
	if c.Name != "unregistered" {
		lists = append([]list{{drawn.Table.Caption, drawn.Table.Head, drawn.Table.Rows}}, lists...)
	}
	for i, t := range lists {
		if i > 0 {
			fmt.Fprintln(a.stdout)
		}
		if err := t.print(a.stdout); err != nil {
			return err
		}
	}
	if p, ok := data.(reports.People); ok && p.Next != "" {
		fmt.Fprintf(a.stdout, "\nnext: --after %s\n", p.Next)
	}
	return nil
}

// list is a table printed as text.
type list struct {
	caption string
	head    []string
	rows    [][]string
}

func (t list) print(w io.Writer) error {
	fmt.Fprintln(w, t.caption)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.head, "\t"))
	for _, r := range t.rows {
		for i := range r {
			r[i] = dash(oneLine(r[i]))
		}
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// oneLine keeps a name from breaking the table with tabs or newlines.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func peopleList(l *i18n.Localizer, p reports.People) list {
	t := list{caption: l.T("report.unregistered.title"), head: []string{"ID", l.T("report.people.username"),
		l.T("report.people.name"), l.T("report.people.email"), l.T("report.people.created")}}
	for _, u := range p.People {
		t.rows = append(t.rows, []string{u.ID, u.Username, u.DisplayName, u.Email, l.Date(u.CreatedAt)})
	}
	return t
}

func accountList(l *i18n.Localizer, caption, at string, as []reports.Account) list {
	t := list{caption: caption, head: []string{"ID", l.T("report.people.username"), l.T("report.people.name"), at}}
	for _, u := range as {
		t.rows = append(t.rows, []string{u.ID, u.Username, u.DisplayName, l.DateTime(u.At)})
	}
	return t
}

// parseRange reads --since (a duration before now, with d for days, or a
// date or time) and --until (a date or time; now when empty).
func parseRange(since, until string, now time.Time) (reports.Range, error) {
	rg := reports.Range{Until: now}
	if until != "" {
		t, err := parseWhen(until)
		if err != nil {
			return rg, fmt.Errorf("--until: %w", err)
		}
		rg.Until = t
	}
	if d, ok := parseDays(since); ok {
		rg.Since = rg.Until.Add(-d)
	} else if d, err := time.ParseDuration(since); err == nil {
		if d <= 0 {
			return rg, errors.New("--since: a duration must be positive")
		}
		rg.Since = rg.Until.Add(-d)
	} else {
		t, err := parseWhen(since)
		if err != nil {
			return rg, fmt.Errorf("--since: %w (or a duration: 30d, 36h)", err)
		}
		rg.Since = t
	}
	if !rg.Until.After(rg.Since) || rg.Until.Sub(rg.Since) > reports.MaxDays*24*time.Hour {
		return rg, fmt.Errorf("--since must be before --until, at most %d days before", reports.MaxDays)
	}
	return rg, nil
}

func parseDays(s string) (time.Duration, bool) {
	n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
	if !strings.HasSuffix(s, "d") || err != nil || n <= 0 || n > reports.MaxDays {
		return 0, false
	}
	return time.Duration(n) * 24 * time.Hour, true
}

func parseWhen(s string) (time.Time, error) {
	for _, layout := range []string{time.DateOnly, time.RFC3339Nano, "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2026-03-01) or time (2026-03-01T12:00:00Z)", s)
}
