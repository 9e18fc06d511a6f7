package ui

import (
	"regexp"
	"strings"
	"testing"
)

// The surfaces config checks brand colours against are the ones the
// stylesheet paints: a change to one without the other would let a brand
// colour through that fails contrast on the page.
func TestPaletteMatchesStylesheet(t *testing.T) {
	css, err := staticFS.ReadFile("static/latchkey.css")
	if err != nil {
		t.Fatal(err)
	}
	s := string(css)
	dark := strings.Index(s, "prefers-color-scheme: dark")
	if dark < 0 {
		t.Fatal("no dark scheme in latchkey.css")
	}
	value := func(part, name string) string {
		m := regexp.MustCompile(`--` + name + `:\s*(#[0-9a-f]{6})`).FindStringSubmatch(part)
		if m == nil {
			t.Fatalf("no --%s in latchkey.css", name)
		}
		return m[1]
	}
	light, darkPart := s[:dark], s[dark:]
	for _, tc := range []struct{ got, want string }{
		{value(light, "card"), LightSurface.Hex()},
		{value(light, "on-accent"), LightSurface.Hex()},
		{value(light, "accent"), DefaultColor.Hex()},
		{value(darkPart, "card"), DarkSurface.Hex()},
		{value(darkPart, "on-accent"), DarkOnAccent.Hex()},
		{value(darkPart, "accent"), DefaultAccent.Hex()},
	} {
		if tc.got != tc.want {
			t.Errorf("latchkey.css has %s where brand.go has %s", tc.got, tc.want)
		}
	}
}
