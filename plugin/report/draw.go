package report

import (
	"math"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/latchkeyid/latchkey/plugin/report/chart"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// The Draw functions turn a report into its chart, every text from the
// message catalogs (area "report") in l's language, numbers and dates
// formatted for it. rg is the range the report covered.

// DrawRegistrations is the registrations by method, as bars of users.
func DrawRegistrations(l *i18n.Localizer, rg Range, rows []MethodCount) chart.Chart {
	b := chart.Bars{ID: "report-registrations", RTL: rtl(l), Title: l.T("report.registrations.title"),
		Desc:         l.T("report.registrations.desc", "Since", l.Date(rg.Since), "Until", lastDay(l, rg)),
		CategoryHead: l.T("report.registrations.method"), Empty: l.T("report.common.empty")}
	users := chart.Series{Name: l.T("report.registrations.users")}
	added := chart.Series{Name: l.T("report.registrations.added")}
	for _, r := range rows {
		b.Categories = append(b.Categories, MethodName(l, r.Method))
		users.Values, users.Labels = append(users.Values, float64(r.Users)), append(users.Labels, l.Number(r.Users))
		added.Labels = append(added.Labels, l.Number(r.Added))
	}
	b.Series = []chart.Series{users}
	c := b.Draw()
	// The table says, beside each method's users, how many were added in
	// the range (the picture shows the users).
	c.Table.Head = append(c.Table.Head, added.Name)
	for i := range c.Table.Rows {
		c.Table.Rows[i] = append(c.Table.Rows[i], added.Labels[i])
	}
	return c
}

// MethodName is a method's name for people, from the method catalog.
func MethodName(l *i18n.Localizer, m string) string {
	switch m {
	case "email":
		return l.T("method.email.name")
	case "mobile":
		return l.T("method.mobile.name")
	case "alternate-phone":
		return l.T("method.alternate-phone.name")
	case "office-phone":
		return l.T("method.office-phone.name")
	case "totp":
		return l.T("method.totp.name")
	case "push":
		return l.T("method.push.name")
	case "questions":
		return l.T("method.questions.name")
	}
	return m
}

// DrawCoverage is the users registered for recovery and not, stacked to
// 100 %.
func DrawCoverage(l *i18n.Localizer, c Coverage) chart.Chart {
	share := func(n int64) string { return percentOf(l, n, c.Users) }
	return chart.Bars{ID: "report-coverage", RTL: rtl(l), Title: l.T("report.coverage.title"),
		Desc: l.T("report.coverage.desc", "Registered", l.Number(c.Registered), "Users", l.Number(c.Users),
			"Unregistered", l.Number(c.Unregistered)),
		CategoryHead: l.T("report.registrations.users"), Categories: []string{l.T("report.coverage.all")}, Percent: true,
		Series: []chart.Series{
			{Name: l.T("report.coverage.registered"), Values: []float64{float64(c.Registered)}, Labels: []string{share(c.Registered)}},
			{Name: l.T("report.coverage.unregistered"), Values: []float64{float64(c.Unregistered)}, Labels: []string{share(c.Unregistered)}},
		},
		Totals: []string{l.Number(c.Users)}, TotalHead: l.T("report.coverage.total"),
	}.Draw()
}

// DrawRecoveries is the recoveries per day: started, resets and unlocks as
// lines; the table adds each day's success rate.
func DrawRecoveries(l *i18n.Localizer, rg Range, ds []RecoveryDay) chart.Chart {
	started := chart.Series{Name: l.T("report.recoveries.started")}
	resets := chart.Series{Name: l.T("report.recoveries.resets")}
	unlocks := chart.Series{Name: l.T("report.recoveries.unlocks")}
	var x, rates []string
	var all, done int64
	for _, d := range ds {
		x = append(x, l.Date(d.Day))
		started.Values, started.Labels = append(started.Values, float64(d.Started)), append(started.Labels, l.Number(d.Started))
		resets.Values, resets.Labels = append(resets.Values, float64(d.Resets)), append(resets.Labels, l.Number(d.Resets))
		unlocks.Values, unlocks.Labels = append(unlocks.Values, float64(d.Unlocks)), append(unlocks.Labels, l.Number(d.Unlocks))
		rates = append(rates, percent(l, d.SuccessRate))
		all, done = all+d.Started, done+d.Succeeded()
	}
	rate := successRate(done, all)
	c := chart.Line{ID: "report-recoveries", RTL: rtl(l), Title: l.T("report.recoveries.title"),
		Desc: l.T("report.recoveries.desc", "Since", l.Date(rg.Since), "Until", lastDay(l, rg),
			"Started", l.Number(all), "Done", l.Number(done), "Rate", percent(l, rate)),
		X: x, XHead: l.T("report.recoveries.day"), YLabel: l.T("report.recoveries.count"),
		Series: []chart.Series{started, resets, unlocks}, Tick: func(f float64) string { return l.Number(int64(f)) },
	}.Draw()
	c.Table.Head = append(c.Table.Head, l.T("report.recoveries.rate"))
	for i := range c.Table.Rows {
		c.Table.Rows[i] = append(c.Table.Rows[i], rates[i])
	}
	return c
}

// DrawFunnel is the recovery funnel: how many reached each step and how
// many stopped there.
func DrawFunnel(l *i18n.Localizer, rg Range, steps []FunnelStep) chart.Chart {
	f := chart.Funnel{ID: "report-funnel", RTL: rtl(l), Title: l.T("report.funnel.title"),
		StepHead: l.T("report.funnel.step"), ValueHead: l.T("report.funnel.reached"), NoteHead: l.T("report.funnel.stopped")}
	var first, last int64
	for i, s := range steps {
		if i == 0 {
			first = s.Reached
		}
		last = s.Reached
		st := chart.Step{Name: StageName(l, s.Stage), Value: float64(s.Reached), Label: percentOf(l, s.Reached, first)}
		if s.Stopped > 0 {
			st.Note = l.T("report.funnel.note", "Count", l.Number(s.Stopped))
		}
		f.Steps = append(f.Steps, st)
	}
	f.Desc = l.T("report.funnel.desc", "Since", l.Date(rg.Since), "Until", lastDay(l, rg),
		"Started", l.Number(first), "Completed", l.Number(last))
	return f.Draw()
}

// StageName is a funnel stage's name for people.
func StageName(l *i18n.Localizer, s Stage) string {
	switch s {
	case StageStarted:
		return l.T("report.funnel.started")
	case StageCaptchaPassed:
		return l.T("report.funnel.captcha_passed")
	case StageMethodChosen:
		return l.T("report.funnel.method_chosen")
	case StageCodeVerified:
		return l.T("report.funnel.code_verified")
	default:
		return l.T("report.funnel.completed")
	}
}

// DrawLocked is the lockouts per day.
func DrawLocked(l *i18n.Localizer, rg Range, lk Locked) chart.Chart {
	return perDayChart(l, "report-locked", l.T("report.locked.title"),
		l.T("report.locked.desc", "Since", l.Date(rg.Since), "Until", lastDay(l, rg), "Now", l.Number(lk.Now)),
		l.T("report.locked.count"), lk.PerDay)
}

// DrawFraud is the "This wasn't me" reports per day.
func DrawFraud(l *i18n.Localizer, rg Range, f Fraud) chart.Chart {
	return perDayChart(l, "report-fraud", l.T("report.fraud.title"),
		l.T("report.fraud.desc", "Since", l.Date(rg.Since), "Until", lastDay(l, rg), "Open", l.Number(f.Open)),
		l.T("report.fraud.count"), f.PerDay)
}

func perDayChart(l *i18n.Localizer, id, title, desc, count string, per []DayCount) chart.Chart {
	s := chart.Series{Name: count}
	var x []string
	for _, d := range per {
		x = append(x, l.Date(d.Day))
		s.Values, s.Labels = append(s.Values, float64(d.Count)), append(s.Labels, l.Number(d.Count))
	}
	return chart.Line{ID: id, RTL: rtl(l), Title: title, Desc: desc, X: x, XHead: l.T("report.recoveries.day"), YLabel: count,
		Series: []chart.Series{s}, Tick: func(f float64) string { return l.Number(int64(f)) }}.Draw()
}

// DrawPhoneSends is the phone sends by calling code, stacked: sent,
// failed at the gateway, refused by a limit.
func DrawPhoneSends(l *i18n.Localizer, rg Range, rows []CountrySends) chart.Chart {
	sent := chart.Series{Name: l.T("report.phone.sent")}
	failed := chart.Series{Name: l.T("report.phone.failed")}
	blocked := chart.Series{Name: l.T("report.phone.blocked")}
	b := chart.Bars{ID: "report-phone", RTL: rtl(l), Title: l.T("report.phone.title"),
		Desc:         l.T("report.phone.desc", "Since", l.Date(rg.Since), "Until", lastDay(l, rg)),
		CategoryHead: l.T("report.phone.country"), TotalHead: l.T("report.coverage.total"), Empty: l.T("report.common.empty")}
	add := func(s *chart.Series, n int64) {
		s.Values, s.Labels = append(s.Values, float64(n)), append(s.Labels, l.Number(n))
	}
	for _, r := range rows {
		b.Categories = append(b.Categories, CountryName(l, r))
		add(&sent, r.Sent)
		add(&failed, r.Failed)
		add(&blocked, r.Blocked)
		b.Totals = append(b.Totals, l.Number(r.Total()))
	}
	b.Series = []chart.Series{sent, failed, blocked}
	return b.Draw()
}

// CountryName is "+44 (United Kingdom)" in l's language, "+1 (United
// States and others)" for a shared code; "Unknown" when the send recorded
// no calling code.
func CountryName(l *i18n.Localizer, r CountrySends) string {
	if r.CallingCode == "" {
		return l.T("report.phone.unknown")
	}
	name := ""
	if reg, err := language.ParseRegion(r.Region); err == nil && r.Region != "" {
		name = display.Regions(language.Make(l.Lang())).Name(reg)
	}
	switch {
	case name == "":
		return l.T("report.phone.code", "Code", r.CallingCode)
	case r.Shared:
		return l.T("report.phone.code_regions", "Code", r.CallingCode, "Region", name)
	}
	return l.T("report.phone.code_region", "Code", r.CallingCode, "Region", name)
}

// percentOf is "n (p %)" with p the share of n in of.
func percentOf(l *i18n.Localizer, n, of int64) string {
	p := 0.0
	if of > 0 {
		p = float64(n) / float64(of)
	}
	return l.T("report.common.count_percent", "Count", l.Number(n), "Percent", l.Number(int64(math.Round(p*100))))
}

func percent(l *i18n.Localizer, p float64) string {
	return l.T("report.common.percent", "Percent", l.Number(int64(math.Round(p*100))))
}

// lastDay is the last day rg covers (its end is exclusive).
func lastDay(l *i18n.Localizer, rg Range) string {
	return l.Date(rg.Until.Add(-time.Nanosecond))
}

func rtl(l *i18n.Localizer) bool { return l.Dir() == "rtl" }
