package cachever_test

import (
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/cachever"
	"github.com/latchkeyid/latchkey/provider/clocktest"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/schema"
)

// A bump is seen after the check interval, not before, and only in the
// counter it bumped; a bump rolled back with its transaction is never seen.
func TestWatchSeesBumpsAfterInterval(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		clk := clocktest.At(time.Unix(1_800_000_000, 0))
		w := cachever.New(g, clk.Now, time.Second)
		clients, keys := w.Version(ctx, cachever.Clients), w.Version(ctx, cachever.Keys)
		if err := g.Transaction(func(tx *gorm.DB) error { return cachever.Bump(tx, cachever.Clients) }); err != nil {
			t.Fatal(err)
		}
		if got := w.Version(ctx, cachever.Clients); got != clients {
			t.Fatalf("counter read again within the interval: %d, want %d", got, clients)
		}
		clk.Advance(time.Second)
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
		clk.Advance(time.Second)
		if got := w.Version(ctx, cachever.Clients); got != clients {
			t.Fatalf("a rolled-back bump was seen: %d, want %d", got, clients)
		}
	})
}

// Set writes a setting whether or not its row exists, the same value
// twice included (MySQL counts an unchanged row as unaffected), and a
// Watch sees it after the interval; Get reads 0 for a name never set.
func TestSetAndGet(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		clk := clocktest.At(time.Unix(1_800_000_000, 0))
		w := cachever.New(g, clk.Now, time.Second)
		before := w.Version(ctx, cachever.OpaqueFormat)
		for _, v := range []int64{before + 5, before + 5, 1} {
			if err := cachever.Set(g, cachever.OpaqueFormat, v); err != nil {
				t.Fatal(err)
			}
			if got, err := cachever.Get(ctx, g, cachever.OpaqueFormat); err != nil || got != v {
				t.Fatalf("Get = %d, %v; want %d", got, err, v)
			}
		}
		if got := w.Version(ctx, cachever.OpaqueFormat); got != before {
			t.Fatalf("seen within the interval: %d", got)
		}
		clk.Advance(time.Second)
		if got := w.Version(ctx, cachever.OpaqueFormat); got != 1 {
			t.Fatalf("seen after the interval: %d, want 1", got)
		}
		if err := cachever.Set(g, "fresh_setting", 7); err != nil {
			t.Fatal(err)
		}
		if got, err := cachever.Get(ctx, g, "fresh_setting"); err != nil || got != 7 {
			t.Fatalf("a new row: %d, %v", got, err)
		}
		if got, err := cachever.Get(ctx, g, "never_set"); err != nil || got != 0 {
			t.Fatalf("a missing row: %d, %v", got, err)
		}
	})
}

// BenchmarkVersion is the cost a token pays to ask for the opaque format:
// a read within the interval answers from memory.
func BenchmarkVersion(b *testing.B) {
	g := dbtest.Open(b, dbtest.URL(b, dbtest.SQLite), schema.Set())
	w := cachever.New(g, nil, time.Hour)
	ctx := b.Context()
	w.Version(ctx, cachever.OpaqueFormat)
	b.ReportAllocs()
	for b.Loop() {
		w.Version(ctx, cachever.OpaqueFormat)
	}
}
