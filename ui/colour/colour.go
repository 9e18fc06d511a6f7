// Package colour parses CSS hex colours and computes their WCAG 2.2
// contrast ratio, so brand colours can be refused at start-up and tests
// can check what the browser actually paints.
package colour

import (
	"encoding/hex"
	"fmt"
	"math"
	"strings"
)

// RGB is an sRGB colour with 8 bits per channel.
type RGB struct{ R, G, B uint8 }

// Parse reads "#rrggbb" or "#rgb".
func Parse(s string) (RGB, error) {
	h := strings.TrimPrefix(s, "#")
	if len(s) == len(h) {
		return RGB{}, fmt.Errorf("colour %q: want #rrggbb", s)
	}
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if len(h) != 6 {
		return RGB{}, fmt.Errorf("colour %q: want #rrggbb", s)
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return RGB{}, fmt.Errorf("colour %q: want #rrggbb", s)
	}
	return RGB{b[0], b[1], b[2]}, nil
}

// MustParse is Parse for constants known to be valid.
func MustParse(s string) RGB {
	c, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return c
}

// Hex is c as "#rrggbb".
func (c RGB) Hex() string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// Luminance is the WCAG relative luminance, 0 (black) to 1 (white).
func (c RGB) Luminance() float64 {
	lin := func(v uint8) float64 {
		x := float64(v) / 255
		if x <= 0.04045 {
			return x / 12.92
		}
		return math.Pow((x+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c.R) + 0.7152*lin(c.G) + 0.0722*lin(c.B)
}

// Contrast is the WCAG contrast ratio of a and b, 1 to 21.
func Contrast(a, b RGB) float64 {
	la, lb := a.Luminance(), b.Luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// Minimum contrast ratios of WCAG 2.2 AA.
const (
	TextAA = 4.5 // body text
	UIAA   = 3.0 // input borders, focus indicators, large text
)
