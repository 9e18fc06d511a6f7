package opstore_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/seed"
)

// TestGrowthLatency measures, when LATCHKEY_TEST_GROWTH_ROWS is set (for
// example to 1000000), sign-in (password check with its lockout
// bookkeeping) and refresh rotation on an empty database and on one
// holding that many extra users and live refresh tokens, alternating
// rounds, and logs both p99s and their ratio. It asserts nothing about
// time: the figures go to BENCHMARKS.md; the index use behind them is
// asserted by TestHotQueriesUseIndexes. Backends: LATCHKEY_TEST_GROWTH_DB
// (sqlite by default, or mysql).
func TestGrowthLatency(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LATCHKEY_TEST_GROWTH_ROWS"))
	if n <= 0 {
		t.Skip("set LATCHKEY_TEST_GROWTH_ROWS to measure")
	}
	backend := dbtest.SQLite
	if os.Getenv("LATCHKEY_TEST_GROWTH_DB") == "mysql" {
		backend = dbtest.MySQL
	}
	ctx := t.Context()
	empty := newEnv(t, dbtest.Open(t, dbtest.URL(t, backend), sets()...))
	big := newEnv(t, dbtest.Open(t, dbtest.URL(t, backend), sets()...))
	start := time.Now()
	if err := seed.Users(ctx, big.g, "seeded", n, big.alice.PasswordHash); err != nil {
		t.Fatal(err)
	}
	if err := seed.RefreshTokens(ctx, big.g, "web", big.alice.ID, n, big.clk.Now().Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d users and %d refresh tokens in %s", n, n, time.Since(start).Round(time.Second))

	const rounds, per = 4, 250
	lat := map[string][]time.Duration{}
	for r := range rounds {
		for _, in := range []struct {
			name string
			e    *env
		}{{"empty", empty}, {"big", big}} {
			_, rt := in.e.codeTokens(t, "web", true)
			for i := range per {
				t0 := time.Now()
				if _, err := in.e.users.Authenticate(ctx, "alice", "correct horse battery staple"); err != nil {
					t.Fatal(err)
				}
				lat[in.name+" sign-in"] = append(lat[in.name+" sign-in"], time.Since(t0))
				t0 = time.Now()
				_, next, err := in.e.refresh(t, rt)
				if err != nil {
					t.Fatalf("round %d refresh %d on %s: %v", r, i, in.name, err)
				}
				lat[in.name+" refresh"] = append(lat[in.name+" refresh"], time.Since(t0))
				rt = next
			}
		}
	}
	for _, op := range []string{"sign-in", "refresh"} {
		e, b := p99(lat["empty "+op]), p99(lat["big "+op])
		t.Logf("%s %s p99: empty %s, %d rows %s, ratio %.2f", backend, op, e, n, b, float64(b)/float64(e))
	}
}
