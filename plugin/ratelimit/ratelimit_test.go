package ratelimit_test

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/provider/clocktest"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

func newClock() *clocktest.Clock { return clocktest.At(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)) }

func TestAllow(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		t.Run("limit-then-refuse", func(t *testing.T) {
			clk := newClock()
			l := ratelimit.New(g, ratelimit.WithClock(clk.Now))
			for i := range 10 {
				ok, _, err := l.Allow(ctx, "email-to", "a@example.com", 10, 10*time.Minute)
				if err != nil || !ok {
					t.Fatalf("event %d refused: %v", i+1, err)
				}
				clk.Advance(10 * time.Second)
			}
			ok, wait, err := l.Allow(ctx, "email-to", "a@example.com", 10, 10*time.Minute)
			if err != nil || ok || wait <= 0 || wait > 10*time.Minute {
				t.Fatalf("11th = %v, %v, %v; want refused with a retry time", ok, wait, err)
			}
			// Keys and scopes are separate.
			if ok, _, _ := l.Allow(ctx, "email-to", "b@example.com", 10, 10*time.Minute); !ok {
				t.Fatal("other key refused")
			}
			if ok, _, _ := l.Allow(ctx, "email-user", "a@example.com", 10, 10*time.Minute); !ok {
				t.Fatal("other scope refused")
			}
			if n, _ := l.Count(ctx, "email-to", "a@example.com", 10*time.Minute); n != 10 {
				t.Fatalf("Count = %d, want 10 (refusals are not counted)", n)
			}
			// The window slides: after retryAfter, one more is allowed.
			clk.Advance(wait)
			if ok, _, _ := l.Allow(ctx, "email-to", "a@example.com", 10, 10*time.Minute); !ok {
				t.Fatalf("refused after waiting %v", wait)
			}
		})
		t.Run("never-more-than-limit-in-any-window", func(t *testing.T) {
			clk := newClock()
			l := ratelimit.New(g, ratelimit.WithClock(clk.Now))
			var times []time.Time
			for range 600 { // one attempt every 7 s for 70 min
				if ok, _, err := l.Allow(ctx, "s", "k", 5, 10*time.Minute); err != nil {
					t.Fatal(err)
				} else if ok {
					times = append(times, clk.Now())
				}
				clk.Advance(7 * time.Second)
			}
			for i := range times {
				n := 0
				for _, u := range times[i:] {
					if u.Sub(times[i]) < 10*time.Minute {
						n++
					}
				}
				if n > 5 {
					t.Fatalf("%d events in the 10 min from %v", n, times[i])
				}
			}
			if len(times) < 30 {
				t.Fatalf("only %d events allowed in 70 min at 5/10 min", len(times))
			}
		})
		t.Run("concurrent-callers-never-exceed", func(t *testing.T) {
			clk := newClock()
			l := ratelimit.New(g, ratelimit.WithClock(clk.Now))
			var ok atomic.Int32
			var wg sync.WaitGroup
			for range 50 {
				wg.Go(func() {
					allowed, _, err := l.Allow(ctx, "ip", "192.0.2.1", 10, time.Hour)
					if err != nil {
						t.Error(err)
					}
					if allowed {
						ok.Add(1)
					}
				})
			}
			wg.Wait()
			if ok.Load() != 10 {
				t.Fatalf("%d of 50 concurrent events allowed, want exactly 10", ok.Load())
			}
		})
		t.Run("reset-and-cleanup", func(t *testing.T) {
			clk := newClock()
			l := ratelimit.New(g, ratelimit.WithClock(clk.Now))
			for range 3 {
				l.Allow(ctx, "user", "u1", 3, time.Hour)
			}
			if ok, _, _ := l.Allow(ctx, "user", "u1", 3, time.Hour); ok {
				t.Fatal("4th allowed")
			}
			if err := l.Reset(ctx, "user", "u1"); err != nil {
				t.Fatal(err)
			}
			if ok, _, _ := l.Allow(ctx, "user", "u1", 3, time.Hour); !ok {
				t.Fatal("refused after reset")
			}
			clk.Advance(3 * time.Hour)
			if n, err := l.Cleanup(ctx); err != nil || n < 1 {
				t.Fatalf("Cleanup = %d, %v", n, err)
			}
		})
		t.Run("bad-rules", func(t *testing.T) {
			l := ratelimit.New(g)
			for _, r := range []ratelimit.Rule{{Scope: "", Limit: 1, Window: time.Second}, {Scope: "s", Limit: 0, Window: time.Second}, {Scope: "s", Limit: 1}} {
				if _, _, err := r.Allow(ctx, l, "k"); err == nil {
					t.Fatalf("rule %+v accepted", r)
				}
			}
		})
	})
}

// TestTwoInstances runs two limiters on two connection pools to one
// database, as two Latchkey instances would: together they allow exactly
// the limit.
func TestTwoInstances(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		a := ratelimit.New(dbtest.Open(t, url, schema.Set()))
		b := ratelimit.New(dbtest.Open(t, url, schema.Set()))
		var ok atomic.Int32
		var wg sync.WaitGroup
		for i := range 40 {
			l := a
			if i%2 == 1 {
				l = b
			}
			wg.Go(func() {
				allowed, _, err := l.Allow(t.Context(), "email-to", "shared@example.com", 10, 10*time.Minute)
				if err != nil {
					t.Error(err)
				}
				if allowed {
					ok.Add(1)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 10 {
			t.Fatalf("two instances allowed %d, want 10", ok.Load())
		}
	})
}

// TestBucketCreatedBetweenUpdateAndRead: the first caller's UPDATE finds
// no bucket, and another caller creates it before the first looks again.
// The bucket holds one event of a limit of three, so the first caller must
// still be admitted, not told the bucket is full.
func TestBucketCreatedBetweenUpdateAndRead(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		c := newClock()
		const window = time.Hour
		bs := window.Milliseconds() / 10
		sum := sha256.Sum256([]byte("198.51.100.9"))
		var once sync.Once
		err := g.Callback().Update().After("gorm:update").Register("test:other-caller", func(tx *gorm.DB) {
			if tx.Statement.Table != "sspr_ratelimits" || tx.RowsAffected != 0 {
				return
			}
			once.Do(func() {
				err := g.Session(&gorm.Session{NewDB: true, SkipHooks: true}).Exec(
					"INSERT INTO sspr_ratelimits (scope, key_hash, window_ms, bucket, count, expires_at) VALUES (?, ?, ?, ?, 1, ?)",
					"meanwhile", hex.EncodeToString(sum[:]), window.Milliseconds(), c.Now().UnixMilli()/bs, c.Now().Add(2*window)).Error
				if err != nil {
					t.Errorf("the other caller's insert: %v", err)
				}
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		l := ratelimit.New(g, ratelimit.WithClock(c.Now))
		ok, _, err := l.Allow(t.Context(), "meanwhile", "198.51.100.9", 3, window)
		if err != nil || !ok {
			t.Fatalf("Allow = %v, %v; want admitted (1 of 3 taken)", ok, err)
		}
		if n, err := l.Count(t.Context(), "meanwhile", "198.51.100.9", window); err != nil || n != 2 {
			t.Fatalf("count = %d, %v; want 2 (the other caller's and ours)", n, err)
		}
	})
}
