package chart

// Funnel draws steps as centred bars whose widths follow their values,
// each with its name, its value and a note (who stopped there).
type Funnel struct {
	ID    string
	RTL   bool
	Title string
	Desc  string
	Steps []Step
	// The table's headers: the step, its value, its note.
	StepHead, ValueHead, NoteHead string
}

// Step is one stage of a funnel.
type Step struct {
	Name  string
	Value float64
	Label string // the value as shown
	Note  string // e.g. "3 stopped here"; may be ""
}

// Draw renders f.
func (f Funnel) Draw() Chart {
	var d doc
	const stepH = 44.0
	labelW, endW := 0.0, 0.0
	for _, s := range f.Steps {
		labelW = max(labelW, textWidth(s.Name))
		endW = max(endW, textWidth(s.Label), textWidth(s.Note))
	}
	labelW, endW = min(labelW+8, maxLabelW), min(endW+12, 200)
	top := float64(margin + titleH)
	d.open(f.ID, f.Title, f.Desc, f.RTL, top+float64(len(f.Steps))*stepH+margin)
	x0 := margin + labelW
	plotW := width - margin - x0 - endW
	var peak float64
	for _, s := range f.Steps {
		peak = max(peak, s.Value)
	}
	for i, s := range f.Steps {
		y := top + float64(i)*stepH
		d.label(x0-8, y+20, labelW-8, "", "end", s.Name)
		w := 0.0
		if peak > 0 && s.Value > 0 {
			w = max(2, s.Value/peak*plotW)
		}
		d.rect(x0+(plotW-w)/2, y+6, w, 22, d.fill(0))
		d.label(x0+plotW+8, y+16, endW-8, "", "start", s.Label)
		if s.Note != "" {
			d.label(x0+plotW+8, y+32, endW-8, "muted", "start", s.Note)
		}
	}
	return Chart{SVG: d.close(), Table: f.table()}
}

func (f Funnel) table() Table {
	t := Table{Caption: f.Title, Head: []string{f.StepHead, f.ValueHead, f.NoteHead}}
	for _, s := range f.Steps {
		t.Rows = append(t.Rows, []string{s.Name, s.Label, s.Note})
	}
	return t
}
