package chart

import (
	"math"
	"strconv"
	"testing"
)

// luminance is the WCAG relative luminance of #rrggbb.
func luminance(t *testing.T, hex string) float64 {
	t.Helper()
	if len(hex) != 7 || hex[0] != '#' {
		t.Fatalf("colour %q", hex)
	}
	var l [3]float64
	for i := range 3 {
		v, err := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		if err != nil {
			t.Fatal(err)
		}
		c := float64(v) / 255
		if c <= 0.04045 {
			l[i] = c / 12.92
		} else {
			l[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

func contrast(t *testing.T, a, b string) float64 {
	la, lb := luminance(t, a), luminance(t, b)
	return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)
}

// Text reaches 4.5:1 and marks 3:1 on the chart's background, light and dark.
func TestContrast(t *testing.T) {
	schemes := []struct {
		name                  string
		bg, text, muted, grid string
		series                []string
	}{
		{"light", lightBG, lightText, lightMuted, lightGrid, lightSeries},
		{"dark", darkBG, darkText, darkMuted, darkGrid, darkSeries},
	}
	for _, s := range schemes {
		t.Run(s.name, func(t *testing.T) {
			for name, c := range map[string]string{"text": s.text, "muted": s.muted} {
				if r := contrast(t, c, s.bg); r < 4.5 {
					t.Errorf("%s %s on %s: %.2f:1, want 4.5:1", name, c, s.bg, r)
				}
			}
			for i, c := range s.series {
				if r := contrast(t, c, s.bg); r < 3 {
					t.Errorf("series %d %s on %s: %.2f:1, want 3:1", i, c, s.bg, r)
				}
			}
		})
	}
}
