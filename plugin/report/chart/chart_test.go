package chart

import (
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const evil = `<script>alert("x")</script> & ]]>`

// node is a parsed SVG element.
type node struct {
	name  string
	attrs map[string]string
	text  string // its own character data
	kids  []*node
}

// parse reads svg as XML, failing the test on anything not well-formed.
func parse(t *testing.T, svg string) *node {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tok)
			}
		}
	}
	if root == nil {
		t.Fatal("empty SVG")
	}
	return root
}

func (n *node) all(name string) []*node {
	var out []*node
	if n.name == name {
		out = append(out, n)
	}
	for _, k := range n.kids {
		out = append(out, k.all(name)...)
	}
	return out
}

// texts is the character data of every <text> (with its tooltip's).
func (n *node) texts() []string {
	var out []string
	for _, t := range n.all("text") {
		out = append(out, t.text)
		for _, tt := range t.all("title") {
			out = append(out, tt.text)
		}
	}
	return out
}

func kinds() map[string]Chart {
	return map[string]Chart{
		"bars": Bars{ID: "reg", Title: "Registrations by method", Desc: "Users holding each method.",
			CategoryHead: "Method", Categories: []string{"Email", "Mobile phone", evil},
			Series: []Series{{Name: "Users", Values: []float64{12, 5, 1}, Labels: []string{"12", "5", "1"}}}}.Draw(),
		"stacked": Bars{ID: "cov", Title: "Registered for recovery", Desc: "3 of 7 users can recover by themselves.",
			CategoryHead: "Users", Categories: []string{"All users"}, Percent: true,
			Series: []Series{
				{Name: "Registered", Values: []float64{3}, Labels: []string{"3 (43 %)"}},
				{Name: "Not registered", Values: []float64{4}, Labels: []string{"4 (57 %)"}},
			}, Totals: []string{"7"}, TotalHead: "Total"}.Draw(),
		"line": Line{ID: "rec", Title: "Recoveries per day", Desc: "Started and completed recoveries, 1–3 March 2026.",
			XHead: "Day", YLabel: "Recoveries", X: []string{"1 Mar", "2 Mar", "3 Mar"},
			Series: []Series{
				{Name: "Started", Values: []float64{2, 2, 2}, Labels: []string{"2", "2", "2"}},
				{Name: "Completed", Values: []float64{2, 0, 1}, Labels: []string{"2", "0", "1"}},
			}}.Draw(),
		"funnel": Funnel{ID: "fun", Title: "Where recoveries stop", Desc: "9 started, 2 completed.",
			StepHead: "Step", ValueHead: "Reached", NoteHead: "Stopped here",
			Steps: []Step{
				{Name: "Started", Value: 9, Label: "9 (100 %)", Note: "3 stopped here"},
				{Name: "CAPTCHA passed", Value: 6, Label: "6 (67 %)", Note: "1 stopped here"},
				{Name: "Completed", Value: 2, Label: "2 (22 %)"},
			}}.Draw(),
	}
}

// Every kind is well-formed XML, an image with its title and description
// named by aria-labelledby, scales by its viewBox, and draws no script.
func TestAccessibleSVG(t *testing.T) {
	for name, c := range kinds() {
		t.Run(name, func(t *testing.T) {
			root := parse(t, c.SVG)
			if root.name != "svg" || root.attrs["role"] != "img" || root.attrs["viewBox"] == "" {
				t.Errorf("root %s role=%q viewBox=%q", root.name, root.attrs["role"], root.attrs["viewBox"])
			}
			if len(root.kids) < 2 || root.kids[0].name != "title" || root.kids[1].name != "desc" {
				t.Fatalf("the SVG does not open with <title> and <desc>")
			}
			title, desc := root.kids[0], root.kids[1]
			if title.text != c.Table.Caption || desc.text == "" {
				t.Errorf("title %q (table caption %q), desc %q", title.text, c.Table.Caption, desc.text)
			}
			if want := title.attrs["id"] + " " + desc.attrs["id"]; root.attrs["aria-labelledby"] != want {
				t.Errorf("aria-labelledby %q, want %q", root.attrs["aria-labelledby"], want)
			}
			for _, bad := range []string{"script", "foreignObject", "a", "image"} {
				if n := root.all(bad); len(n) > 0 {
					t.Errorf("the SVG has <%s>", bad)
				}
			}
			if strings.Contains(c.SVG, "http://") && strings.Count(c.SVG, "http://") != 1 {
				t.Errorf("the SVG refers to something outside it")
			}
		})
	}
}

// Every value of the table is written in the picture too: no value is
// shown by colour or length alone.
func TestValuesWritten(t *testing.T) {
	for name, c := range kinds() {
		t.Run(name, func(t *testing.T) {
			shown := strings.Join(parse(t, c.SVG).texts(), "\n")
			for _, row := range c.Table.Rows {
				for _, cell := range row {
					if cell != "" && !strings.Contains(shown, cell) {
						t.Errorf("%q is in the table but not in the picture", cell)
					}
				}
			}
		})
	}
}

// A label holding markup is text: the parsed SVG has it verbatim and no
// element of it, and the table's HTML escapes it.
func TestLabelsEscaped(t *testing.T) {
	c := kinds()["bars"]
	root := parse(t, c.SVG)
	found := false
	for _, s := range root.texts() {
		found = found || s == evil
	}
	if !found {
		t.Errorf("the label %q is not shown as text: %q", evil, root.texts())
	}
	if strings.Contains(c.SVG, "<script") {
		t.Errorf("the SVG holds a raw <script")
	}
	if h := c.Table.HTML(); strings.Contains(h, "<script") || !strings.Contains(h, "&lt;script&gt;") {
		t.Errorf("table HTML not escaped: %s", h)
	}
	// Titles, descriptions and ids are escaped or cleaned too.
	c = Bars{ID: `x" onload="alert(1)`, Title: evil, Desc: evil, Categories: []string{"a"},
		Series: []Series{{Name: evil, Values: []float64{1}, Labels: []string{evil}}}}.Draw()
	root = parse(t, c.SVG)
	if root.kids[0].text != evil || root.kids[1].text != evil {
		t.Errorf("title %q desc %q", root.kids[0].text, root.kids[1].text)
	}
	for _, n := range append(root.all("svg"), root.all("title")...) {
		for k := range n.attrs {
			if strings.HasPrefix(k, "on") {
				t.Errorf("an id smuggled the attribute %s into <%s>", k, n.name)
			}
		}
	}
	if id := root.kids[0].attrs["id"]; strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		t.Errorf("the id %q was not cleaned", id)
	}
}

// Long labels are cut in the picture, kept whole in a tooltip and the table.
func TestLongLabelKept(t *testing.T) {
	long := strings.Repeat("Very long method name ", 12)
	c := Bars{ID: "l", Title: "t", Desc: "d", Categories: []string{long},
		Series: []Series{{Name: "n", Values: []float64{1}, Labels: []string{"1"}}}}.Draw()
	texts := parse(t, c.SVG).texts()
	var cut, whole bool
	for _, s := range texts {
		cut = cut || strings.HasSuffix(s, "…")
		whole = whole || s == long
	}
	if !cut || !whole || c.Table.Rows[0][0] != long {
		t.Errorf("cut %v, whole in tooltip %v, table %q", cut, whole, c.Table.Rows[0][0])
	}
}

// One golden file per kind; go test -update rewrites them.
func TestGolden(t *testing.T) {
	for name, c := range kinds() {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name+".svg.golden")
			got := c.SVG + "\n" + c.Table.HTML() + "\n"
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the golden file (go test -update to accept):\n%s", name, got)
			}
		})
	}
}

// Right-to-left texts run right to left at the same anchors, and a page
// with dir="rtl" cannot flip the picture.
func TestRightToLeft(t *testing.T) {
	ltr := Funnel{ID: "f", Title: "t", Desc: "d", Steps: []Step{{Name: "بدأت", Value: 1, Label: "١"}}}
	rtl := ltr
	rtl.RTL = true
	for name, c := range map[string]Funnel{"ltr": ltr, "rtl": rtl} {
		root := parse(t, c.Draw().SVG)
		if root.attrs["direction"] != "ltr" {
			t.Errorf("%s: root direction %q", name, root.attrs["direction"])
		}
		for _, tx := range root.all("text") {
			if tx.text == "بدأت" {
				want := map[string][2]string{"ltr": {"end", ""}, "rtl": {"start", "rtl"}}[name]
				if tx.attrs["text-anchor"] != want[0] || tx.attrs["direction"] != want[1] {
					t.Errorf("%s: step name anchor %q direction %q, want %v", name, tx.attrs["text-anchor"], tx.attrs["direction"], want)
				}
			}
		}
	}
}

// A bar chart with nothing to show says so, in the picture and not only in
// an empty table.
func TestEmptyBars(t *testing.T) {
	c := Bars{ID: "e", Title: "t", Desc: "d", Empty: "Nothing to show."}.Draw()
	if texts := parse(t, c.SVG).texts(); !slices.Contains(texts, "Nothing to show.") {
		t.Errorf("texts %q", texts)
	}
	if len(c.Table.Rows) != 0 {
		t.Errorf("rows %v", c.Table.Rows)
	}
}
