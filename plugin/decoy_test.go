package plugin_test

import (
	"net/url"
	"strings"
	"testing"
)

// TestDecoyShapes: decoy lists are stable per name, look like real lists
// (masked email, authenticator app) and come in both sizes across names.
func TestDecoyShapes(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		sizes := map[int]bool{}
		// 24 names: with a fresh key per test, all of one size has
		// probability 2^-23.
		names := []string{"ines@example.net"}
		for i := range 23 {
			names = append(names, "person"+string(rune('a'+i)))
		}
		for _, name := range names {
			b := e.browser()
			fp := b.start(name, "")
			b.post(fp, url.Values{"intent": {"reset"}})
			opts := b.options()
			sizes[len(opts)] = true
			for _, o := range opts {
				if len(o[0]) != 26 {
					t.Errorf("%s: decoy id %q not shaped like a real one", name, o[0])
				}
				if strings.Contains(o[1], "@") && !strings.Contains(o[1], "•••") {
					t.Errorf("%s: unmasked decoy address %q", name, o[1])
				}
			}
		}
		if !sizes[1] || !sizes[2] {
			t.Errorf("decoy list sizes %v: want both 1 and 2", sizes)
		}
	})
}
