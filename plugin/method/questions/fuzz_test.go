package questions_test

import (
	"testing"
	"unicode/utf8"

	"github.com/latchkeyid/latchkey/plugin/method/questions"
)

// FuzzNormalize: answer normalisation never panics, is idempotent and
// returns valid UTF-8.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"Blue  Sky", " bLUE ", "ＳＰＲＩＮＧ", "İstanbul", "ß", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := questions.Normalize(s)
		if questions.Normalize(n) != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, questions.Normalize(n))
		}
		if utf8.ValidString(s) && !utf8.ValidString(n) {
			t.Fatalf("invalid UTF-8 from %q", s)
		}
	})
}
