package ratelimit_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// TestGate: a reservation is the increment itself, so N parallel
// reservations pass exactly the limit; Refund gives one back (never below
// zero), and a refunded slot can be reserved again.
func TestGate(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		clk := newClock()
		gate := ratelimit.Gate{Limiter: ratelimit.New(g, ratelimit.WithClock(clk.Now)),
			Rule: ratelimit.Rule{Scope: "login-ip", Limit: 30, Window: 10 * time.Minute}}
		t.Run("parallel-reservations-pass-the-limit-exactly", func(t *testing.T) {
			const n = 200
			var passed atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					ok, _, err := gate.Reserve(ctx, "192.0.2.1")
					if err != nil {
						t.Error(err)
					}
					if ok {
						passed.Add(1)
					}
				}()
			}
			close(start)
			wg.Wait()
			if passed.Load() != 30 {
				t.Fatalf("%d of %d parallel reservations passed, want exactly 30", passed.Load(), n)
			}
		})
		t.Run("refund-frees-one", func(t *testing.T) {
			if ok, wait, _ := gate.Reserve(ctx, "192.0.2.1"); ok || wait <= 0 {
				t.Fatalf("reservation beyond the limit: ok=%v wait=%v", ok, wait)
			}
			if err := gate.Refund(ctx, "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			if ok, _, _ := gate.Reserve(ctx, "192.0.2.1"); !ok {
				t.Fatal("refunded slot not reservable")
			}
			if ok, _, _ := gate.Reserve(ctx, "192.0.2.1"); ok {
				t.Fatal("one refund freed two slots")
			}
		})
		t.Run("refund-never-below-zero", func(t *testing.T) {
			for range 3 {
				if err := gate.Refund(ctx, "198.51.100.7"); err != nil {
					t.Fatal(err)
				}
			}
			n, err := gate.Limiter.Count(ctx, "login-ip", "198.51.100.7", 10*time.Minute)
			if err != nil || n != 0 {
				t.Fatalf("count after refunds of nothing = %d, %v", n, err)
			}
			if ok, _, _ := gate.Reserve(ctx, "198.51.100.7"); !ok {
				t.Fatal("first reservation refused")
			}
			if n, _ := gate.Limiter.Count(ctx, "login-ip", "198.51.100.7", 10*time.Minute); n != 1 {
				t.Fatalf("count = %d, want 1", n)
			}
		})
		t.Run("refund-after-the-window-does-nothing", func(t *testing.T) {
			clk.Advance(11 * time.Minute)
			if err := gate.Refund(ctx, "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			if n, _ := gate.Limiter.Count(ctx, "login-ip", "192.0.2.1", 10*time.Minute); n != 0 {
				t.Fatalf("count = %d after the window", n)
			}
		})
	})
}

// TestBucketBoundary: a caller whose clock still reads the old bucket adds
// to it after a caller in the new bucket has counted it as closed. The
// re-read after each increment keeps the two together within the limit.
func TestBucketBoundary(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		boundary := time.Date(2026, 11, 26, 12, 1, 0, 0, time.UTC) // a 1-minute bucket edge of a 10-minute window
		late := ratelimit.New(g, ratelimit.WithClock(func() time.Time { return boundary.Add(-time.Millisecond) }))
		early := ratelimit.New(g, ratelimit.WithClock(func() time.Time { return boundary.Add(time.Millisecond) }))
		allow := func(l *ratelimit.Limiter, max int) int {
			n := 0
			for range max {
				ok, _, err := l.Allow(ctx, "login-ip", "203.0.113.9", 30, 10*time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					n++
				}
			}
			return n
		}
		total := allow(late, 25) + allow(early, 10) + allow(late, 10)
		if total > 30 {
			t.Fatalf("%d events passed around a bucket boundary, limit 30", total)
		}
		t.Logf("%d passed", total)
	})
}
