package chart

import (
	"fmt"
	"math"
	"strings"
)

// Line is a line chart over evenly spaced points (days): one line per
// series, each with its own dash and marker shape as well as colour.
type Line struct {
	ID     string
	RTL    bool
	Title  string
	Desc   string
	X      []string // the points' labels (dates, formatted by the caller)
	XHead  string   // the table's first column header
	YLabel string   // what the values count
	Series []Series
	// Tick formats an axis value (numbers in the reader's language).
	Tick func(float64) string
}

var (
	dashes  = []string{"", "7 4", "2 3", "9 3 2 3"}
	markers = []string{"circle", "square", "triangle", "diamond"}
)

// Draw renders l.
func (l Line) Draw() Chart {
	var d doc
	const plotH, axisW, xLabelH = 220.0, 56.0, 40.0
	tick := l.Tick
	if tick == nil {
		tick = func(f float64) string { return num(f) }
	}
	names := seriesNames(l.Series)
	top := float64(margin + titleH)
	height := top + legendRows(names)*legendH + 30 + plotH + xLabelH + margin
	d.open(l.ID, l.Title, l.Desc, l.RTL, height)
	y := d.legend(top, names, func(d *doc, i int, x, y float64) {
		d.b.WriteString(fmt.Sprintf(`<line x1="%s" y1="%s" x2="%s" y2="%s" class="line s%d"%s/>`,
			num(x), num(y+8), num(x+18), num(y+8), i%len(lightSeries), dashAttr(i)))
		d.marker(i, x+9, y+8, "")
	})
	d.text(margin, y+10, "muted", "start", l.YLabel)
	y += 30
	x0, x1 := margin+axisW, float64(width-margin-8)
	yBottom := y + plotH
	var peak float64
	for _, s := range l.Series {
		for _, v := range s.Values {
			peak = max(peak, v)
		}
	}
	yTop, step := niceMax(peak)
	for v := 0.0; v <= yTop+step/2; v += step {
		gy := yBottom - v/yTop*plotH
		d.line(x0, gy, x1, gy, "grid")
		d.text(x0-6, gy+4, "muted", "end", tick(v))
	}
	d.line(x0, y, x0, yBottom, "axis")
	n := len(l.X)
	px := func(i int) float64 {
		if n <= 1 {
			return (x0 + x1) / 2
		}
		return x0 + 10 + float64(i)*(x1-x0-20)/float64(n-1)
	}
	py := func(v float64) float64 { return yBottom - v/yTop*plotH }
	// Every k-th date, so labels do not overlap.
	var widest float64
	for _, x := range l.X {
		widest = max(widest, textWidth(x))
	}
	k := 1
	if n > 1 {
		k = int(math.Ceil((widest + 12) / ((x1 - x0 - 20) / float64(n-1))))
		k = max(k, 1)
	}
	for i, x := range l.X {
		if i%k == 0 {
			d.text(px(i), yBottom+18, "muted", "middle", x)
		}
	}
	showValues := n <= 14
	for si, s := range l.Series {
		var pts []string
		for i := range l.X {
			pts = append(pts, num(px(i))+","+num(py(at(s.Values, i))))
		}
		fmt.Fprintf(&d.b, `<polyline class="line s%d"%s points="%s"/>`, si%len(lightSeries), dashAttr(si), strings.Join(pts, " "))
		for i := range l.X {
			d.marker(si, px(i), py(at(s.Values, i)), l.X[i]+" · "+s.Name+": "+at(s.Labels, i))
			if showValues {
				// Odd series label below their points, so two lines meeting
				// do not print over each other.
				dy := -8.0
				if si%2 == 1 && py(at(s.Values, i))+18 < yBottom-4 {
					dy = 18
				}
				d.text(px(i), py(at(s.Values, i))+dy, "", "middle", at(s.Labels, i))
			}
		}
	}
	return Chart{SVG: d.close(), Table: l.table()}
}

func dashAttr(i int) string {
	if s := dashes[i%len(dashes)]; s != "" {
		return ` stroke-dasharray="` + s + `"`
	}
	return ""
}

// marker draws series i's point shape at (x, y).
func (d *doc) marker(i int, x, y float64, tip string) {
	c := fmt.Sprintf(`class="f%d"`, i%len(lightSeries))
	var el, attrs string
	switch markers[i%len(markers)] {
	case "circle":
		el, attrs = "circle", fmt.Sprintf(`cx="%s" cy="%s" r="4"`, num(x), num(y))
	case "square":
		el, attrs = "rect", fmt.Sprintf(`x="%s" y="%s" width="7" height="7"`, num(x-3.5), num(y-3.5))
	case "triangle":
		el, attrs = "path", fmt.Sprintf(`d="M%s,%s l4.5,8 h-9 z"`, num(x), num(y-5))
	default:
		el, attrs = "path", fmt.Sprintf(`d="M%s,%s l5,5 l-5,5 l-5,-5 z"`, num(x), num(y-5))
	}
	if tip == "" {
		fmt.Fprintf(&d.b, `<%s %s %s/>`, el, attrs, c)
		return
	}
	// A point's tooltip names its day, series and value, for a mouse
	// over a line too long to label every point.
	fmt.Fprintf(&d.b, `<%s %s %s><title>%s</title></%s>`, el, attrs, c, esc(tip), el)
}

func (l Line) table() Table {
	t := Table{Caption: l.Title, Head: []string{l.XHead}}
	for _, s := range l.Series {
		t.Head = append(t.Head, s.Name)
	}
	for i, x := range l.X {
		row := []string{x}
		for _, s := range l.Series {
			row = append(row, at(s.Labels, i))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
