package report_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/latchkeyid/latchkey/ui/i18n"
)

var update = flag.Bool("update", false, "rewrite docs/reports from the charts drawn now")

// samples are the charts the README shows, kept as golden files: a change
// to the drawing fails here until go test -update redraws them.
var samples = []string{"registrations", "coverage", "recoveries", "funnel", "locked", "fraud", "phone"}

func TestSampleCharts(t *testing.T) {
	dir := filepath.Join("..", "..", "docs", "reports")
	for _, lang := range []string{"en", "de"} {
		l, _ := i18n.For(lang)
		for i, c := range everyChart(l) {
			name := samples[i] + "." + lang + ".svg"
			t.Run(name, func(t *testing.T) {
				path := filepath.Join(dir, name)
				if *update {
					if err := os.MkdirAll(dir, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(c.SVG+"\n"), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (go test -update ./plugin/report/ draws it)", err)
				}
				if string(want) != c.SVG+"\n" {
					t.Errorf("%s is not what the charts draw now (go test -update ./plugin/report/ redraws it)", path)
				}
			})
		}
	}
}
