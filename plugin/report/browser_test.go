package report_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/plugin/report"
	"github.com/latchkeyid/latchkey/plugin/report/chart"
	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// everyChart draws each report once in l's language, with a month of
// days, long and hostile names.
func everyChart(l *i18n.Localizer) []chart.Chart {
	month := report.Range{Since: day(1, 0, 0), Until: day(31, 0, 0)}
	var days []report.RecoveryDay
	var per []report.DayCount
	for i := range 30 {
		d := day(1, 0, 0).AddDate(0, 0, i)
		days = append(days, report.RecoveryDay{Day: d, Started: int64(10 + i%7*3), Resets: int64(5 + i%5), Unlocks: int64(i % 3), SuccessRate: 0.5})
		per = append(per, report.DayCount{Day: d, Count: int64(i % 4)})
	}
	return []chart.Chart{
		report.DrawRegistrations(l, month, []report.MethodCount{{Method: "email", Users: 120, Total: 130, Added: 4}, {Method: "mobile", Users: 80, Total: 80},
			{Method: "totp", Users: 30, Total: 30}, {Method: `<img src=x onerror=alert(1)> a method with a very long name indeed`, Users: 1, Total: 1}}),
		report.DrawCoverage(l, report.Coverage{Users: 700, Registered: 523, Unregistered: 177}),
		report.DrawRecoveries(l, month, days),
		report.DrawFunnel(l, month, []report.FunnelStep{{Stage: report.StageStarted, Reached: 90, Stopped: 20}, {Stage: report.StageCaptchaPassed, Reached: 70, Stopped: 5},
			{Stage: report.StageMethodChosen, Reached: 65, Stopped: 15}, {Stage: report.StageCodeVerified, Reached: 50, Stopped: 3}, {Stage: report.StageCompleted, Reached: 47}}),
		report.DrawLocked(l, month, report.Locked{Now: 2, PerDay: per}),
		report.DrawFraud(l, month, report.Fraud{Open: 1, PerDay: per}),
		report.DrawPhoneSends(l, month, []report.CountrySends{{CallingCode: "44", Region: "GB", Sent: 30, Failed: 3, Blocked: 2},
			{CallingCode: "1", Region: "US", Sent: 12, Failed: 1}, {CallingCode: "882", Region: "001", Blocked: 40}, {Blocked: 1}}),
	}
}

// page is a plain HTML page showing each chart above its table.
func page(l *i18n.Localizer) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<!doctype html><html lang="%s" dir="%s"><head><meta charset="utf-8"><title>Reports</title></head><body><main><h1>Reports</h1>`, l.Lang(), l.Dir())
	for _, c := range everyChart(l) {
		b.WriteString("<figure>" + c.SVG + c.Table.HTML() + "</figure>")
	}
	b.WriteString("</main></body></html>")
	return b.String()
}

type shown struct {
	Text, Fill, BG string
	X, Y, W, H     float64
	VW, VH         float64
}

// In a real browser, in light and dark: every text of every chart has at
// least 4.5:1 contrast on the chart's background and lies inside the
// picture (nothing cut at an edge, in any language or direction), no
// script runs from a hostile label, and axe-core finds nothing to fix.
func TestChartsInBrowser(t *testing.T) {
	b := chrometest.Start(t)
	for _, lang := range []string{"en", "ar", "ja"} {
		l, _ := i18n.For(lang)
		body := page(l)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'")
			fmt.Fprint(w, body)
		}))
		t.Cleanup(srv.Close)
		for _, dark := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s-dark-%v", lang, dark), func(t *testing.T) {
				tab := b.NewTab().With(t)
				tab.ColorScheme(dark)
				tab.Go(srv.URL)
				raw := chrometest.Eval[string](tab, `JSON.stringify([...document.querySelectorAll("svg text")].map(function(el){
					var svg=el.ownerSVGElement, bb=el.getBBox(), vb=svg.viewBox.baseVal;
					return {Text:el.textContent,Fill:getComputedStyle(el).fill,BG:getComputedStyle(svg.querySelector("rect.bg")).fill,
						X:bb.x,Y:bb.y,W:bb.width,H:bb.height,VW:vb.width,VH:vb.height}}))`)
				var texts []shown
				if err := json.Unmarshal([]byte(raw), &texts); err != nil {
					t.Fatal(err)
				}
				if len(texts) < 80 {
					t.Fatalf("only %d texts drawn", len(texts))
				}
				for _, s := range texts {
					if r := contrastRGB(t, s.Fill, s.BG); r < 4.5 {
						t.Errorf("%q: %s on %s is %.2f:1", s.Text, s.Fill, s.BG, r)
					}
					if s.X < -0.5 || s.Y < -0.5 || s.X+s.W > s.VW+0.5 || s.Y+s.H > s.VH+0.5 {
						t.Errorf("%q lies outside the picture: box %.0f,%.0f %.0fx%.0f in %.0fx%.0f", s.Text, s.X, s.Y, s.W, s.H, s.VW, s.VH)
					}
				}
				if n := chrometest.Eval[int](tab, `document.querySelectorAll("svg img, svg script, table img").length`); n != 0 {
					t.Errorf("%d elements made from a label", n)
				}
				tab.NoProblems()
				t.Run("axe", func(t *testing.T) {
					if vs := tab.With(t).AxeViolations(chrometest.Axe(t)); len(vs) > 0 {
						for _, v := range vs {
							t.Error(v)
						}
					}
				})
			})
		}
	}
}

// contrastRGB is the WCAG contrast of two computed colours "rgb(r, g, b)".
func contrastRGB(t *testing.T, a, b string) float64 {
	t.Helper()
	lum := func(s string) float64 {
		var r, g, bl float64
		if _, err := fmt.Sscanf(s, "rgb(%g, %g, %g)", &r, &g, &bl); err != nil {
			t.Fatalf("colour %q: %v", s, err)
		}
		lin := func(c float64) float64 {
			c /= 255
			if c <= 0.04045 {
				return c / 12.92
			}
			return math.Pow((c+0.055)/1.055, 2.4)
		}
		return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(bl)
	}
	la, lb := lum(a), lum(b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}
