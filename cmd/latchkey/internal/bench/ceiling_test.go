package bench

import (
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/password"
)

// Every ceiling is measured, and each bounded scenario names its bound.
func TestMeasureCeilings(t *testing.T) {
	c, err := MeasureCeilings(t.Context(), 50*time.Millisecond, password.Params{Memory: 1024, Time: 1, Threads: 1}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.RS256 <= 0 || c.ES256 <= 0 || c.Argon2 <= 0 || c.Fsync <= 0 {
		t.Fatalf("ceilings = %+v", c)
	}
	for _, tc := range []struct {
		scenario, what string
		bound          float64
	}{
		{"cc-rs256", "RS256 sign", c.RS256}, {"refresh", "RS256 sign", c.RS256},
		{"cc-es256", "ES256 sign", c.ES256}, {"refresh-es256", "ES256 sign", c.ES256},
		{"signin", "argon2id", c.Argon2}, {"recovery", "argon2id x2", c.Argon2 / 2}, // two hashes a reset
		{"discovery", "", 0},
	} {
		if bound, what := c.Bound(tc.scenario); what != tc.what || bound != tc.bound {
			t.Errorf("Bound(%s) = %g, %q; want %g, %q", tc.scenario, bound, what, tc.bound, tc.what)
		}
	}
	if _, err := MeasureCeilings(t.Context(), time.Millisecond, password.Params{Memory: 1024, Time: 1, Threads: 1}, "/nonexistent/dir"); err == nil {
		t.Error("an unwritable fsync directory must fail")
	}
}
