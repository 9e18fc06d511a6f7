// Package chart draws server-rendered SVG charts for the usage reports:
// bars (one series, stacked, or stacked to 100 %), a line per day, and a
// funnel. Each chart comes with a data table holding every value, for
// screen readers and for anyone who would rather read numbers.
//
// The charts need no JavaScript, no stylesheet from elsewhere and no build
// step. They are accessible by construction: role="img" with a <title>
// and a <desc> the SVG points to, values written as text beside their
// marks (where a mark is too small or a line too long for that, in the
// data table and a tooltip), series told apart by pattern, marker and dash as well as by
// colour, text colours with at least 4.5:1 contrast on the chart's own
// light or dark background (it follows prefers-color-scheme), a viewBox so
// the picture scales. Every label is escaped as XML text: a user or
// country name holding markup stays text.
//
// Why hand-written: of the Go libraries that draw charts, go-echarts
// renders JavaScript for the browser; wcharczuk/go-chart draws SVG
// without title, desc, role, patterns or a text alternative, and measures
// text with its own font files; ajstarks/svgo is an SVG writer, not a
// chart library (what it would save here is the escaping, a few lines of
// encoding/xml); the small SVG chart packages (riclib/gosvgchart, the
// templ-based goshtoso-charts) are young, single-author and have no funnel.
// Four chart kinds in a few hundred lines of standard library are cheaper
// to keep than any of them.
package chart
