package chart

import (
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Chart is a drawn chart: the SVG document and its data table.
type Chart struct {
	SVG   string
	Table Table
}

// Geometry shared by every kind, in viewBox units (1 unit = 1 CSS pixel at
// the natural size).
const (
	width    = 720
	margin   = 16
	fontSize = 13
	rowH     = 30
	barH     = 18
	legendH  = 26
	titleH   = 28
	// maxLabelW bounds the column of category names; longer ones are cut
	// (whole in their tooltip and the table), so bars keep room.
	maxLabelW = 290
)

// The palette. Text colours have at least 4.5:1 contrast on their
// background, marks at least 3:1 (WCAG 1.4.3 and 1.4.11); contrast_test.go
// checks every pair.
var (
	lightBG, darkBG       = "#ffffff", "#0d1117"
	lightText, darkText   = "#1f2328", "#e6edf3"
	lightMuted, darkMuted = "#57606a", "#9da7b3"
	lightGrid, darkGrid   = "#d0d7de", "#30363d"
	lightSeries           = []string{"#0969da", "#bc4c00", "#1a7f37", "#8250df"}
	darkSeries            = []string{"#4493f8", "#f0883e", "#3fb950", "#ab7df8"}
)

// style is the chart's stylesheet: light by default, dark when the reader
// asks for it. Text has a halo of the background colour (paint-order), so
// a label that crosses a mark or a grid line keeps its contrast.
func style() string {
	var b strings.Builder
	rule := func(sel, decl string) { b.WriteString(sel + "{" + decl + "}") }
	scheme := func(bg, text, muted, grid string, series []string) {
		rule(".bg", "fill:"+bg)
		rule("text", "fill:"+text+";stroke:"+bg+";stroke-width:3px;paint-order:stroke;stroke-linejoin:round")
		rule(".muted", "fill:"+muted)
		rule(".grid", "stroke:"+grid)
		rule(".axis", "stroke:"+muted)
		for i, c := range series {
			n := strconv.Itoa(i)
			rule(".f"+n, "fill:"+c)
			rule(".s"+n, "stroke:"+c)
		}
		rule(".pbg", "fill:"+bg)
	}
	b.WriteString("text{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','Noto Sans JP','Noto Sans Arabic',sans-serif;font-size:" + strconv.Itoa(fontSize) + "px}")
	b.WriteString(".title{font-size:16px;font-weight:600}")
	rule(".grid,.axis", "stroke-width:1;fill:none")
	rule(".line", "fill:none;stroke-width:2.5")
	scheme(lightBG, lightText, lightMuted, lightGrid, lightSeries)
	b.WriteString("@media (prefers-color-scheme:dark){")
	scheme(darkBG, darkText, darkMuted, darkGrid, darkSeries)
	b.WriteString("}")
	return b.String()
}

// doc writes an SVG document.
type doc struct {
	b   strings.Builder
	id  string
	rtl bool
}

// esc is s as XML text or attribute value: markup characters become
// references, characters XML cannot hold become U+FFFD.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails
	return b.String()
}

// cleanID keeps an element id safe to use in attributes and url(#…).
func cleanID(id string) string {
	id = strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-') {
			return unicode.ToLower(r)
		}
		return -1
	}, id)
	if id == "" || !unicode.IsLetter(rune(id[0])) {
		id = "chart-" + id
	}
	return id
}

// open starts the document. The geometry is always left to right (a page
// set dir="rtl" must not flip it: the root says direction="ltr"); with rtl
// each text runs right to left, its anchor mirrored so it stays in place.
func (d *doc) open(id, title, desc string, rtl bool, height float64) {
	d.id, d.rtl = cleanID(id), rtl
	h := num(height)
	fmt.Fprintf(&d.b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %s" width="%d" height="%s" style="max-width:100%%;height:auto" role="img" direction="ltr" aria-labelledby="%s-title %s-desc">`,
		width, h, width, h, d.id, d.id)
	fmt.Fprintf(&d.b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, d.id, esc(title), d.id, esc(desc))
	d.b.WriteString("<style>" + style() + "</style>")
	d.patterns()
	fmt.Fprintf(&d.b, `<rect class="bg" x="0" y="0" width="%d" height="%s"/>`, width, h)
	d.text(margin, margin+16, "title", "start", title)
}

// patterns defines one fill per series: solid, hatched, dotted, crossed,
// so series differ without colour.
func (d *doc) patterns() {
	d.b.WriteString("<defs>")
	for i := 1; i < len(lightSeries); i++ {
		n := strconv.Itoa(i)
		fmt.Fprintf(&d.b, `<pattern id="%s-p%s" width="6" height="6" patternUnits="userSpaceOnUse">`, d.id, n)
		d.b.WriteString(`<rect class="pbg" width="6" height="6"/>`)
		switch i {
		case 1: // hatched
			d.b.WriteString(`<path class="s1" d="M-1,1 l2,-2 M0,6 l6,-6 M5,7 l2,-2" stroke-width="2"/>`)
		case 2: // dotted
			d.b.WriteString(`<circle class="f2" cx="3" cy="3" r="2"/>`)
		default: // crossed
			d.b.WriteString(`<path class="s3" d="M0,3 h6 M3,0 v6" stroke-width="2"/>`)
		}
		d.b.WriteString(`</pattern>`)
	}
	d.b.WriteString("</defs>")
}

// fill is the fill attribute of series i: its colour for the first, its
// pattern for the others.
func (d *doc) fill(i int) string {
	i %= len(lightSeries)
	if i == 0 {
		return `class="f0"`
	}
	return fmt.Sprintf(`fill="url(#%s-p%d)" class="s%d" stroke-width="1"`, d.id, i, i)
}

func (d *doc) text(x, y float64, class, anchor, s string) {
	fmt.Fprintf(&d.b, `<text x="%s" y="%s"%s>%s</text>`, num(x), num(y), d.textAttrs(class, anchor), esc(s))
}

// textAttrs are a text's anchor, direction and class.
func (d *doc) textAttrs(class, anchor string) string {
	a := ""
	if d.rtl {
		switch anchor {
		case "start":
			anchor = "end"
		case "end":
			anchor = "start"
		}
		a = ` direction="rtl"`
	}
	a = ` text-anchor="` + anchor + `"` + a
	if class != "" {
		a += ` class="` + class + `"`
	}
	return a
}

// label writes s cut to fit maxW; a cut label keeps its whole text in a
// <title> tooltip (the table has it too).
func (d *doc) label(x, y, maxW float64, class, anchor, s string) {
	short := fit(s, maxW)
	if short == s {
		d.text(x, y, class, anchor, s)
		return
	}
	fmt.Fprintf(&d.b, `<text x="%s" y="%s"%s><title>%s</title>%s</text>`, num(x), num(y), d.textAttrs(class, anchor), esc(s), esc(short))
}

func (d *doc) rect(x, y, w, h float64, attrs string) {
	fmt.Fprintf(&d.b, `<rect x="%s" y="%s" width="%s" height="%s" %s/>`, num(x), num(y), num(w), num(h), attrs)
}

// rectTip is rect with a tooltip naming what it stands for.
func (d *doc) rectTip(x, y, w, h float64, attrs, tip string) {
	fmt.Fprintf(&d.b, `<rect x="%s" y="%s" width="%s" height="%s" %s><title>%s</title></rect>`, num(x), num(y), num(w), num(h), attrs, esc(tip))
}

func (d *doc) line(x1, y1, x2, y2 float64, class string) {
	fmt.Fprintf(&d.b, `<line x1="%s" y1="%s" x2="%s" y2="%s" class="%s"/>`, num(x1), num(y1), num(x2), num(y2), class)
}

// legend writes one swatch and name per series from y, returning the y
// below it.
func (d *doc) legend(y float64, names []string, swatch func(d *doc, i int, x, y float64)) float64 {
	x := float64(margin)
	for i, n := range names {
		w := textWidth(n) + 36
		if x+w > width-margin && x > margin {
			x, y = margin, y+legendH
		}
		swatch(d, i, x, y)
		d.text(x+22, y+12, "", "start", n)
		x += w
	}
	return y + legendH
}

func (d *doc) close() string {
	d.b.WriteString("</svg>")
	return d.b.String()
}

// num prints a coordinate with at most one decimal.
func num(f float64) string {
	return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64)
}

// textWidth estimates the width of s at the chart's font size: wide
// (CJK) characters are a full em, others about 0.6 em. The estimate errs
// wide, so labels do not overlap.
func textWidth(s string) float64 {
	var w float64
	for _, r := range s {
		if isWide(r) {
			w += fontSize
		} else {
			w += 0.62 * fontSize
		}
	}
	return w
}

func isWide(r rune) bool {
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r) ||
		unicode.Is(unicode.Hangul, r) || (r >= 0xFF00 && r <= 0xFFEF)
}

// fit cuts s with an ellipsis so it fits maxW.
func fit(s string, maxW float64) string {
	if textWidth(s) <= maxW {
		return s
	}
	rs := []rune(s)
	for len(rs) > 1 && textWidth(string(rs))+textWidth("…") > maxW {
		rs = rs[:len(rs)-1]
	}
	return string(rs) + "…"
}

// niceMax rounds max up to 1, 2 or 5 times a power of ten, and gives the
// step of about four grid lines.
func niceMax(max float64) (top, step float64) {
	if max <= 0 {
		return 1, 1
	}
	raw := max / 4
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if step = m * p; step >= raw {
			break
		}
	}
	if step < 1 {
		step = 1 // counts are whole
	}
	return math.Ceil(max/step) * step, step
}
