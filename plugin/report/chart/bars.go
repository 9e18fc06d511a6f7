package chart

// Series is one set of values. Labels are the values as shown (formatted
// for the reader's language by the caller), one per value.
type Series struct {
	Name   string
	Values []float64
	Labels []string
}

// Bars is a horizontal bar chart: one row per category. With one series
// the bars are plain; with more they are stacked, and with Percent each
// row is stacked to 100 %.
type Bars struct {
	ID           string // unique on the page: prefixes the SVG's ids
	RTL          bool   // texts run right to left (Arabic); the geometry does not
	Title        string
	Desc         string // the chart's point in a sentence
	Categories   []string
	CategoryHead string // the table's first column header
	Series       []Series
	Percent      bool
	Totals       []string // shown at each row's end when stacked (optional)
	TotalHead    string   // the table's header of Totals
	Empty        string   // said in the picture when there are no categories
}

// Draw renders b.
func (b Bars) Draw() Chart {
	var d doc
	labelW := 0.0
	for _, c := range b.Categories {
		labelW = max(labelW, textWidth(c))
	}
	labelW = min(labelW+8, maxLabelW)
	endW := 90.0 // room for a value or total after the bar
	stacked := len(b.Series) > 1
	top := float64(margin + titleH)
	rows := max(len(b.Categories), 1) // the empty chart says so on a row
	height := top + float64(rows)*rowH + margin
	if stacked {
		height += legendRows(seriesNames(b.Series)) * legendH
	}
	d.open(b.ID, b.Title, b.Desc, b.RTL, height)
	y := top
	if stacked {
		y = d.legend(y, seriesNames(b.Series), func(d *doc, i int, x, y float64) {
			d.rect(x, y+1, 16, 14, d.fill(i))
		})
	}
	if len(b.Categories) == 0 {
		d.text(margin, y+barH-4, "muted", "start", b.Empty)
		return Chart{SVG: d.close(), Table: b.table()}
	}
	x0 := margin + labelW
	plotW := width - margin - x0 - endW
	scale := 0.0
	if !b.Percent {
		for i := range b.Categories {
			scale = max(scale, rowSum(b.Series, i))
		}
	}
	for i, cat := range b.Categories {
		ry := y + float64(i)*rowH
		d.label(x0-8, ry+barH-4, labelW-8, "", "end", cat)
		total := rowSum(b.Series, i)
		den := scale
		if b.Percent {
			den = total
		}
		x := x0
		for s, ser := range b.Series {
			v := at(ser.Values, i)
			if den <= 0 || v <= 0 {
				continue
			}
			w := v / den * plotW
			d.rectTip(x, ry, w, barH, d.fill(s), cat+" · "+ser.Name+": "+at(ser.Labels, i))
			if lbl := at(ser.Labels, i); stacked && textWidth(lbl)+6 <= w {
				d.text(x+w/2, ry+barH-4, "", "middle", lbl)
			}
			x += w
		}
		end := ""
		switch {
		case !stacked && len(b.Series) == 1:
			end = at(b.Series[0].Labels, i)
		case i < len(b.Totals):
			end = b.Totals[i]
		}
		d.label(x+6, ry+barH-4, endW+plotW-(x-x0)-6, "", "start", end)
	}
	d.line(x0, y-4, x0, y+float64(len(b.Categories))*rowH-8, "axis")
	return Chart{SVG: d.close(), Table: b.table()}
}

func (b Bars) table() Table {
	t := Table{Caption: b.Title, Head: []string{b.CategoryHead}}
	for _, s := range b.Series {
		t.Head = append(t.Head, s.Name)
	}
	if len(b.Totals) > 0 {
		t.Head = append(t.Head, b.TotalHead)
	}
	for i, c := range b.Categories {
		row := []string{c}
		for _, s := range b.Series {
			row = append(row, at(s.Labels, i))
		}
		if len(b.Totals) > 0 {
			row = append(row, at(b.Totals, i))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func seriesNames(ss []Series) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name
	}
	return out
}

// legendRows estimates how many rows the legend of names takes.
func legendRows(names []string) float64 {
	rows, x := 1.0, float64(margin)
	for _, n := range names {
		w := textWidth(n) + 36
		if x+w > width-margin && x > margin {
			rows, x = rows+1, margin
		}
		x += w
	}
	return rows
}

func rowSum(ss []Series, i int) float64 {
	var sum float64
	for _, s := range ss {
		if v := at(s.Values, i); v > 0 {
			sum += v
		}
	}
	return sum
}

// at is s[i], or the zero value past its end.
func at[T any](s []T, i int) T {
	var zero T
	if i < 0 || i >= len(s) {
		return zero
	}
	return s[i]
}
