package chart

import (
	"html"
	"strings"
)

// Table is a chart's data as a table: the text alternative shown beside
// (or instead of) the picture. Cells are plain text.
type Table struct {
	Caption string
	Head    []string
	Rows    [][]string
}

// HTML renders the table, every cell escaped. The first cell of each row
// is its header.
func (t Table) HTML() string {
	var b strings.Builder
	b.WriteString("<table><caption>" + html.EscapeString(t.Caption) + "</caption><thead><tr>")
	for _, h := range t.Head {
		b.WriteString(`<th scope="col">` + html.EscapeString(h) + "</th>")
	}
	b.WriteString("</tr></thead><tbody>")
	for _, r := range t.Rows {
		b.WriteString("<tr>")
		for i, c := range r {
			if i == 0 {
				b.WriteString(`<th scope="row">` + html.EscapeString(c) + "</th>")
			} else {
				b.WriteString("<td>" + html.EscapeString(c) + "</td>")
			}
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</tbody></table>")
	return b.String()
}
