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
	res, err := reports.New(g).Run(a.ctx, l, reports.Request{Name: c.Name, Range: rg, After: c.After, Limit: c.Limit})
	if err != nil {
		return err
	}
	switch c.Format {
	case "json":
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res.Data)
	case "svg":
		_, err := io.WriteString(a.stdout, res.Chart.SVG+"\n")
		return err
	}
	lists := res.Lists
	if c.Name != "unregistered" {
		lists = append([]chart.Table{res.Chart.Table}, lists...)
	}
	for i, t := range lists {
		if i > 0 {
			fmt.Fprintln(a.stdout)
		}
		if err := printTable(a.stdout, t); err != nil {
			return err
		}
	}
	if p, ok := res.Data.(reports.People); ok && p.Next != "" {
		fmt.Fprintf(a.stdout, "\nnext: --after %s\n", p.Next)
	}
	return nil
}

// printTable prints t as aligned text.
func printTable(w io.Writer, t chart.Table) error {
	fmt.Fprintln(w, oneLine(t.Caption))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.Head, "\t"))
	for _, r := range t.Rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = dash(oneLine(c))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
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
