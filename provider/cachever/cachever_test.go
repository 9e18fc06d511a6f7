package cachever_test

import (
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/cachever"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/schema"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A bump is seen after the check interval, not before, and only in the
// counter it bumped; a bump rolled back with its transaction is never seen.
func TestWatchSeesBumpsAfterInterval(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		clk := &clock{t: time.Unix(1_800_000_000, 0)}
		w := cachever.New(g, clk.Now, time.Second)
		clients, keys := w.Version(ctx, cachever.Clients), w.Version(ctx, cachever.Keys)
		if err := g.Transaction(func(tx *gorm.DB) error { return cachever.Bump(tx, cachever.Clients) }); err != nil {
			t.Fatal(err)
		}
		if got := w.Version(ctx, cachever.Clients); got != clients {
			t.Fatalf("counter read again within the interval: %d, want %d", got, clients)
		}
		clk.Add(time.Second)
		if got := w.Version(ctx, cachever.Clients); got == clients {
			t.Fatal("bump not seen after the interval")
		}
		if got := w.Version(ctx, cachever.Keys); got != keys {
			t.Fatalf("keys counter moved with clients: %d, want %d", got, keys)
		}
		clients = w.Version(ctx, cachever.Clients)
		_ = g.Transaction(func(tx *gorm.DB) error {
			if err := cachever.Bump(tx, cachever.Clients); err != nil {
				t.Fatal(err)
			}
			return gorm.ErrInvalidTransaction // roll back
		})
		clk.Add(time.Second)
		if got := w.Version(ctx, cachever.Clients); got != clients {
			t.Fatalf("a rolled-back bump was seen: %d, want %d", got, clients)
		}
	})
}
