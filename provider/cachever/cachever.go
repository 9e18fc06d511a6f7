package cachever

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Names of the cached things that carry a version.
const (
	Clients = "clients"
	Keys    = "keys"
	// OpaqueFormat is a setting rather than a counter: the version of the
	// opaque token and code format every instance mints (provider/opaque's
	// Format). It is read like the counters, so a change made by one
	// command reaches every instance within one interval.
	OpaqueFormat = "opaque_format"
)

// Table is the counter table (created by provider/schema).
const Table = "latchkey_cache_versions"

// DefaultEvery is how often an instance reads the counters: the bound
// within which every instance sees a client or key change.
const DefaultEvery = time.Second

// Bump advances the counter of name. Call it in the transaction that
// changes what name caches, so the counter never moves before the change
// is visible, nor stays put after it.
func Bump(tx *gorm.DB, name string) error {
	res := tx.Exec("UPDATE "+Table+" SET version = version + 1 WHERE name = ?", name)
	if res.Error != nil {
		return fmt.Errorf("cachever: bump %s: %w", name, res.Error)
	}
	if res.RowsAffected == 0 {
		// The migration seeds every name; a missing row is recreated.
		if err := tx.Exec("INSERT INTO "+Table+" (name, version) VALUES (?, 1)", name).Error; err != nil {
			return fmt.Errorf("cachever: bump %s: %w", name, err)
		}
	}
	return nil
}

// Set stores v as the version of name: for a setting such as
// OpaqueFormat (counters move only by Bump).
func Set(tx *gorm.DB, name string, v int64) error {
	err := tx.Table(Table).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "name"}},
		DoUpdates: clause.Assignments(map[string]any{"version": v}),
	}).Create(map[string]any{"name": name, "version": v}).Error
	if err != nil {
		return fmt.Errorf("cachever: set %s: %w", name, err)
	}
	return nil
}

// Get reads the version of name now, 0 when it has none (for commands;
// instances use a Watch).
func Get(ctx context.Context, g *gorm.DB, name string) (int64, error) {
	var v []int64
	if err := g.WithContext(ctx).Table(Table).Where("name = ?", name).Limit(1).Pluck("version", &v).Error; err != nil {
		return 0, fmt.Errorf("cachever: get %s: %w", name, err)
	}
	if len(v) == 0 {
		return 0, nil
	}
	return v[0], nil
}

// Watch reads the counters for one instance, at most once per interval.
type Watch struct {
	g     *gorm.DB
	now   func() time.Time
	every time.Duration

	mu        sync.Mutex
	checkedAt time.Time
	versions  map[string]int64
	reading   sync.Mutex // one read at a time; others use the last answer
}

// New returns a Watch on g that reads at most once per every (DefaultEvery
// when every <= 0), timed by now.
func New(g *gorm.DB, now func() time.Time, every time.Duration) *Watch {
	if every <= 0 {
		every = DefaultEvery
	}
	if now == nil {
		now = time.Now
	}
	return &Watch{g: g, now: now, every: every}
}

// Version returns the counter of name as read at most one interval ago.
// The first call of a process, and the first after the interval, read the
// table; while one caller reads, the others get the previous answer. A
// failed read keeps the previous answer (the caches' own TTL still bounds
// their age) and is retried on the next call.
func (w *Watch) Version(ctx context.Context, name string) int64 {
	now := w.now()
	w.mu.Lock()
	fresh := w.versions != nil && now.Sub(w.checkedAt) < w.every && !now.Before(w.checkedAt)
	v := w.versions[name]
	first := w.versions == nil
	w.mu.Unlock()
	if fresh {
		return v
	}
	if first {
		w.reading.Lock() // the very first answer is worth waiting for
	} else if !w.reading.TryLock() {
		return v
	}
	defer w.reading.Unlock()
	w.read(ctx, now)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.versions[name]
}

func (w *Watch) read(ctx context.Context, now time.Time) {
	w.mu.Lock()
	done := w.versions != nil && now.Sub(w.checkedAt) < w.every && !now.Before(w.checkedAt)
	w.mu.Unlock()
	if done { // another caller read while this one waited
		return
	}
	var rows []struct {
		Name    string
		Version int64
	}
	err := w.g.WithContext(ctx).Raw("SELECT name, version FROM " + Table).Scan(&rows).Error
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		slog.WarnContext(ctx, "cachever: read failed, keeping cached versions", "err", err)
		if w.versions == nil {
			// Unknown versions: -1 matches nothing, so caches reload.
			w.versions = map[string]int64{}
		}
		return
	}
	next := make(map[string]int64, len(rows))
	for _, r := range rows {
		next[r.Name] = r.Version
	}
	w.versions = next
	w.checkedAt = now
}
