package plugin

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// methodView is one row of Security info: what the method is, the device
// or detail that tells it from another of its kind, and when it was added.
type methodView struct {
	ID, Method, Title, Detail, Added string
	// Usable is when a cooling-down method counts for recovery ("" when it
	// does already).
	Usable string
	// Line is the row's full text, unique on the page (the delete
	// button's accessible name and the confirmation page's heading).
	Line string
}

// rows builds the Security info rows, the strongest first as in the add
// list. Two rows never read the same: rows of one kind added on one day
// show the time too, and a number when even that matches.
func (p *Plugin) rows(l *i18n.Localizer, ms []method.Enrollment, now time.Time) []methodView {
	views := make([]methodView, 0, len(ms))
	for _, e := range ms {
		v := methodView{ID: e.ID, Method: string(e.Method), Title: p.methodTitle(l, e.Method),
			Added: l.Date(e.CreatedAt)}
		if p.info(e.Method).App { // the label names the app or the device
			v.Title = l.T("method.app.name")
		}
		if e.Method == method.Questions {
			v.Detail = questionsDetail(l, e.Label)
		} else if e.Label != v.Title && e.Label != p.info(e.Method).AddTitle {
			v.Detail = e.Label
		}
		if !e.Usable(now) {
			v.Usable = when(l, now, e.UsableAt)
		}
		views = append(views, v)
	}
	slices.SortStableFunc(views, func(x, y methodView) int {
		return p.info(method.Name(x.Method)).Rank - p.info(method.Name(y.Method)).Rank
	})
	line := func(v methodView) string {
		s := v.Title
		if v.Detail != "" {
			s += " · " + v.Detail
		}
		return s + " · " + l.T("securityinfo.row.added", "Date", v.Added)
	}
	seen := map[string]int{}
	for _, v := range views {
		seen[line(v)]++
	}
	for i, v := range views {
		if seen[line(v)] > 1 {
			views[i].Added += ", " + l.Clock(ms[indexOf(ms, v.ID)].CreatedAt)
		}
	}
	again := map[string]int{}
	for i := range views {
		l := line(views[i])
		again[l]++
		if n := again[l]; n > 1 {
			views[i].Detail = joinDetail(views[i].Detail, "#"+strconv.Itoa(n))
		}
		views[i].Line = line(views[i])
	}
	return views
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

func indexOf(ms []method.Enrollment, id string) int {
	return slices.IndexFunc(ms, func(e method.Enrollment) bool { return e.ID == id })
}

// when words a moment after now in the page's language and time zone:
// "14:05 tomorrow (UTC)", or the full date and time further ahead.
func when(l *i18n.Localizer, now, t time.Time) string {
	switch l.Date(t) {
	case l.Date(now):
		return l.T("securityinfo.when.zone", "When", l.T("securityinfo.when.today", "Time", l.Clock(t)), "Zone", l.Zone())
	case l.Date(now.AddDate(0, 0, 1)):
		return l.T("securityinfo.when.zone", "When", l.T("securityinfo.when.tomorrow", "Time", l.Clock(t)), "Zone", l.Zone())
	}
	return l.DateTime(t)
}

// methodTitle names a kind of method in the page's language (the method
// catalog); a kind it does not know keeps its own English title.
func (p *Plugin) methodTitle(l *i18n.Localizer, n method.Name) string {
	switch n {
	case method.TOTP:
		return l.T("method.totp.name")
	case method.Push:
		return l.T("method.push.name")
	case method.Mobile:
		return l.T("method.mobile.name")
	case method.AlternatePhone:
		return l.T("method.alternate-phone.name")
	case method.OfficePhone:
		return l.T("method.office-phone.name")
	case method.Email:
		return l.T("method.email.name")
	case method.Questions:
		return l.T("method.questions.name")
	}
	return p.info(n).AddTitle
}

// questionsDetail words a questions enrollment's stored label ("3 security
// questions", written in English when it was added) from its count, in
// the page's language.
func questionsDetail(l *i18n.Localizer, label string) string {
	var n int
	if _, err := fmt.Sscanf(label, "%d", &n); err != nil || n <= 0 {
		return ""
	}
	return l.T("method.label.questions", "Count", n)
}

// rowTitle words a recovery or step-up row (delivery: "sms", "voice" or
// "") in the page's language; a kind it does not know keeps its own
// English title.
func (p *Plugin) rowTitle(l *i18n.Localizer, n method.Name, delivery string) string {
	switch {
	case n == method.TOTP:
		return l.T("method.row.totp")
	case n == method.Push:
		return l.T("method.row.push")
	case n == method.Email:
		return l.T("method.row.email")
	case n == method.Questions:
		return l.T("method.row.questions")
	case n == method.Mobile && delivery == "sms":
		return l.T("method.row.mobile-sms")
	case n == method.Mobile && delivery == "voice":
		return l.T("method.row.mobile-voice")
	case n == method.Mobile:
		return l.T("method.row.mobile")
	case n == method.AlternatePhone:
		return l.T("method.row.alternate-phone")
	case n == method.OfficePhone:
		return l.T("method.row.office-phone")
	}
	return p.info(n).Title(delivery)
}

// groupsOfFour writes an authenticator key in groups of four characters,
// as people read it out and type it.
func groupsOfFour(key string) string {
	var b []byte
	for i := 0; i < len(key); i++ {
		if i > 0 && i%4 == 0 {
			b = append(b, ' ')
		}
		b = append(b, key[i])
	}
	return string(b)
}
