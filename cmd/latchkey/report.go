package main

import (
	"encoding/json"
	"fmt"
	"io"
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
	rg, err := reports.ParseRange(c.Since, c.Until, now)
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
