package colour

import (
	"math"
	"testing"
)

func TestContrast(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21},
		{"#fff", "#fff", 1},
		{"#767676", "#ffffff", 4.54}, // the lightest grey that passes on white
		{"#0b57d0", "#ffffff", 6.39},
	} {
		got := Contrast(MustParse(tc.a), MustParse(tc.b))
		if math.Abs(got-tc.want) > 0.05 {
			t.Errorf("Contrast(%s, %s) = %.2f, want %.2f", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{"", "red", "0b57d0", "#0b57d", "#0b57dz", "#12345678", "rgb(0,0,0)"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
	if c, err := Parse("#AbC"); err != nil || c.Hex() != "#aabbcc" {
		t.Errorf("Parse(#AbC) = %v %v", c.Hex(), err)
	}
}
