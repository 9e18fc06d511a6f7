package plugin

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method"
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
func (p *Plugin) rows(ms []method.Enrollment, now time.Time) []methodView {
	views := make([]methodView, 0, len(ms))
	for _, e := range ms {
		v := methodView{ID: e.ID, Method: string(e.Method), Title: p.info(e.Method).AddTitle,
			Added: day(e.CreatedAt)}
		if p.info(e.Method).App { // the label names the app or the device
			v.Title = "Authenticator app"
		}
		if e.Label != v.Title {
			v.Detail = e.Label
		}
		if !e.Usable(now) {
			v.Usable = when(now, e.UsableAt)
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
		return s + " · added " + v.Added
	}
	seen := map[string]int{}
	for _, v := range views {
		seen[line(v)]++
	}
	for i, v := range views {
		if seen[line(v)] > 1 {
			views[i].Added += ", " + clock(ms[indexOf(ms, v.ID)].CreatedAt)
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

// day and clock write dates and times in UTC, and say so for times: the
// page does not know the browser's time zone.
func day(t time.Time) string { return t.UTC().Format("2 Jan 2006") }

func clock(t time.Time) string { return t.UTC().Format("15:04") + " UTC" }

// when words a moment after now: "14:05 UTC today", "14:05 UTC
// tomorrow", or "14:05 UTC on 4 Dec 2026".
func when(now, t time.Time) string {
	n, u := now.UTC(), t.UTC()
	switch {
	case sameDay(n, u):
		return clock(u) + " today"
	case sameDay(n.AddDate(0, 0, 1), u):
		return clock(u) + " tomorrow"
	}
	return fmt.Sprintf("%s on %s", clock(u), day(u))
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
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
