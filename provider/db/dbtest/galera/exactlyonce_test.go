package galera_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/db/dbtest/galera"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// racers is how many goroutines race for one thing, spread over the nodes.
const racers = 24

// eachCluster runs fn with three pools on one database: on Galera each
// pool talks to a different node; on plain MariaDB all three share the
// server, where the same guarantees must hold.
func eachCluster(t *testing.T, fn func(t *testing.T, pools []*gorm.DB)) {
	t.Run("galera", func(t *testing.T) {
		urls := galera.Get(t).URLs(t)
		pools := []*gorm.DB{dbtest.Open(t, urls[0], schema.Set())}
		for _, u := range urls[1:] {
			pools = append(pools, dbtest.Open(t, u))
		}
		fn(t, pools)
	})
	t.Run("mariadb", func(t *testing.T) {
		u := dbtest.URL(t, dbtest.MySQL)
		pools := []*gorm.DB{dbtest.Open(t, u, schema.Set()), dbtest.Open(t, u), dbtest.Open(t, u)}
		fn(t, pools)
	})
}

// race starts n goroutines at once, goroutine i on pools[i%len(pools)].
func race(pools []*gorm.DB, n int, fn func(i int, g *gorm.DB)) {
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			fn(i, pools[i%len(pools)])
		}()
	}
	start.Done()
	done.Wait()
}

func retries() float64 {
	var total float64
	for _, op := range []string{"code.check", "ratelimit.take"} {
		total += counterValue(op)
	}
	return total
}

// TestRecoveryCodeAcceptedOnce: the right code, checked by many requests
// at once on every node, opens the flow exactly once.
func TestRecoveryCodeAcceptedOnce(t *testing.T) {
	k, err := secret.Parse(secret.Generate())
	if err != nil {
		t.Fatal(err)
	}
	eachCluster(t, func(t *testing.T, pools []*gorm.DB) {
		before := retries()
		for round := range 5 {
			codes := make([]*method.Codes, len(pools))
			for i, g := range pools {
				codes[i] = method.NewCodes(g, k)
			}
			ctx := t.Context()
			id, code, _, err := codes[0].Issue(ctx, "flow", "user", "enrollment")
			if err != nil {
				t.Fatal(err)
			}
			var ok, failed atomic.Int64
			race(pools, racers, func(i int, _ *gorm.DB) {
				r, err := codes[i%len(codes)].Check(ctx, id, "flow", "user", code)
				switch {
				case err != nil:
					failed.Add(1)
					t.Errorf("check %d: %v", i, err)
				case r.OK:
					ok.Add(1)
				}
			})
			if ok.Load() != 1 || failed.Load() != 0 {
				t.Fatalf("round %d: the code was accepted %d times of %d (%d errors)", round, ok.Load(), racers, failed.Load())
			}
		}
		t.Logf("conflict retries: %v", retries()-before)
	})
}

// TestRateLimitNeverOverAdmits: N attempts at once on every node against a
// limit of L admit exactly L.
func TestRateLimitNeverOverAdmits(t *testing.T) {
	const limit = 7
	eachCluster(t, func(t *testing.T, pools []*gorm.DB) {
		before := retries()
		limiters := make([]*ratelimit.Limiter, len(pools))
		for i, g := range pools {
			limiters[i] = ratelimit.New(g)
		}
		for round := range 5 {
			key := "203.0.113." + string(rune('1'+round))
			var ok atomic.Int64
			race(pools, racers, func(i int, _ *gorm.DB) {
				allowed, _, err := limiters[i%len(limiters)].Allow(context.Background(), "galera-test", key, limit, time.Hour)
				if err != nil {
					t.Errorf("attempt %d: %v", i, err)
				}
				if allowed {
					ok.Add(1)
				}
			})
			if ok.Load() != limit {
				t.Fatalf("round %d: %d of %d attempts admitted against a limit of %d", round, ok.Load(), racers, limit)
			}
		}
		t.Logf("conflict retries: %v", retries()-before)
	})
}
