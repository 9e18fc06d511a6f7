package bench

import (
	"strings"
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
	for scenario, want := range map[string]string{"cc-rs256": "RS256", "refresh": "RS256", "cc-es256": "ES256", "refresh-es256": "ES256", "signin": "argon2id", "recovery": "argon2id", "discovery": ""} {
		if _, what := c.Bound(scenario); !strings.HasPrefix(what, want) || (want == "") != (what == "") {
			t.Errorf("Bound(%s) = %q, want %q", scenario, what, want)
		}
	}
	if _, err := MeasureCeilings(t.Context(), time.Millisecond, password.Params{Memory: 1024, Time: 1, Threads: 1}, "/nonexistent/dir"); err == nil {
		t.Error("an unwritable fsync directory must fail")
	}
}
