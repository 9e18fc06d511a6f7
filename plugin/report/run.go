package report

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkeyid/latchkey/plugin/report/chart"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// Names lists the reports by the names the command line and the admin API
// use.
var Names = []string{"registrations", "coverage", "unregistered", "recoveries", "funnel", "locked", "fraud", "phone"}

// ErrUnknown means a report name not in Names.
var ErrUnknown = errors.New("report: unknown report")

// Request asks for one report. After and Limit page the unregistered list.
type Request struct {
	Name  string
	Range Range
	After string
	Limit int
}

// Result is a report run: its numbers (one of this package's types, for
// JSON), its chart, and the lists of people it names (unregistered,
// locked, reported), as tables worded for the reader.
type Result struct {
	Data  any
	Chart chart.Chart
	Lists []chart.Table
}

// Run runs the report req names, its texts in l's language: the one path
// the command line and the admin API share.
func (r *Reports) Run(ctx context.Context, l *i18n.Localizer, req Request) (Result, error) {
	rg := req.Range
	switch req.Name {
	case "registrations":
		rows, err := r.Registrations(ctx, rg)
		return Result{Data: rows, Chart: DrawRegistrations(l, rg, rows)}, err
	case "coverage", "unregistered":
		cov, err := r.Coverage(ctx)
		if err != nil || req.Name == "coverage" {
			return Result{Data: cov, Chart: DrawCoverage(l, cov)}, err
		}
		page, err := r.Unregistered(ctx, req.After, req.Limit)
		return Result{Data: page, Chart: DrawCoverage(l, cov), Lists: []chart.Table{PeopleTable(l, page)}}, err
	case "recoveries":
		days, err := r.Recoveries(ctx, rg)
		return Result{Data: days, Chart: DrawRecoveries(l, rg, days)}, err
	case "funnel":
		steps, err := r.Funnel(ctx, rg)
		return Result{Data: steps, Chart: DrawFunnel(l, rg, steps)}, err
	case "locked":
		lk, err := r.Locked(ctx, rg)
		return Result{Data: lk, Chart: DrawLocked(l, rg, lk),
			Lists: []chart.Table{AccountTable(l, l.T("report.locked.accounts"), l.T("report.locked.until"), lk.Accounts)}}, err
	case "fraud":
		f, err := r.Fraud(ctx, rg)
		return Result{Data: f, Chart: DrawFraud(l, rg, f),
			Lists: []chart.Table{AccountTable(l, l.T("report.fraud.accounts"), l.T("report.fraud.reported"), f.Accounts)}}, err
	case "phone":
		rows, err := r.PhoneSends(ctx, rg)
		return Result{Data: rows, Chart: DrawPhoneSends(l, rg, rows)}, err
	}
	return Result{}, fmt.Errorf("%w %q", ErrUnknown, req.Name)
}

// PeopleTable is a page of the unregistered list as a table.
func PeopleTable(l *i18n.Localizer, p People) chart.Table {
	t := chart.Table{Caption: l.T("report.unregistered.title"), Head: []string{"ID", l.T("report.people.username"),
		l.T("report.people.name"), l.T("report.people.email"), l.T("report.people.created")}}
	for _, u := range p.People {
		t.Rows = append(t.Rows, []string{u.ID, u.Username, u.DisplayName, u.Email, l.Date(u.CreatedAt)})
	}
	return t
}

// AccountTable lists accounts (locked, reported) with the time at says.
func AccountTable(l *i18n.Localizer, caption, at string, as []Account) chart.Table {
	t := chart.Table{Caption: caption, Head: []string{"ID", l.T("report.people.username"), l.T("report.people.name"), at}}
	for _, u := range as {
		t.Rows = append(t.Rows, []string{u.ID, u.Username, u.DisplayName, l.DateTime(u.At)})
	}
	return t
}
