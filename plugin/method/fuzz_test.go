package method_test

import (
	"testing"

	"github.com/latchkeyid/latchkey/plugin/method"
)

// FuzzNormalizeCode: any input is handled without panic, the result is
// stable, and only an exact 8-digit result can ever be a code.
func FuzzNormalizeCode(f *testing.F) {
	for _, s := range []string{"12345678", " 1234-5678 ", "１２３４５６７８", "", "\x00", "1234 5678 9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := method.NormalizeCode(s)
		if method.NormalizeCode(n) != n {
			t.Fatalf("not idempotent: %q -> %q", s, n)
		}
		_ = method.MaskEmail(s)
		_ = method.MaskPhone(s, 1)
	})
}
