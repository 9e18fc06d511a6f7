package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// buckets is how many buckets a window is split into.
const buckets = 10

// counter is the live model of sspr_ratelimits (frozen copy:
// plugin/schema). KeyHash is SHA-256 of the caller's key, so addresses and
// IPs are not stored in the clear and keys of any length fit the index.
type counter struct {
	Scope     string    `gorm:"primaryKey;size:64"`
	KeyHash   string    `gorm:"primaryKey;size:64"`
	WindowMS  int64     `gorm:"primaryKey;autoIncrement:false"`
	Bucket    int64     `gorm:"primaryKey;autoIncrement:false"`
	Count     int       `gorm:"not null"`
	ExpiresAt time.Time `gorm:"precision:6;not null;index"`
}

func (counter) TableName() string { return "sspr_ratelimits" }

// Limiter is a database-backed rate limiter. It is safe for concurrent use
// by many goroutines and instances.
type Limiter struct {
	g   *gorm.DB
	now func() time.Time
}

// Option configures a Limiter.
type Option func(*Limiter)

// WithClock injects the clock (tests).
func WithClock(now func() time.Time) Option { return func(l *Limiter) { l.now = now } }

// New returns a limiter on g.
func New(g *gorm.DB, opts ...Option) *Limiter {
	l := &Limiter{g: g, now: func() time.Time { return time.Now().UTC() }}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Rule is one limit: at most Limit events per Window for a key of Scope.
type Rule struct {
	Scope  string // e.g. "email-to", "email-user", "email-ip"
	Limit  int
	Window time.Duration
}

// Allow is l.Allow with the rule's parameters.
func (r Rule) Allow(ctx context.Context, l *Limiter, key string) (bool, time.Duration, error) {
	return l.Allow(ctx, r.Scope, key, r.Limit, r.Window)
}

// Gate is a rule bound to a limiter for one kind of expensive or secret
// check: Reserve counts the attempt before the check runs (one conditional
// UPDATE, so parallel callers on every instance count together and none
// passes beyond the limit), Refund gives it back when it did not count.
type Gate struct {
	Limiter *Limiter
	Rule    Rule
}

// Reserve records one attempt for key if the rule allows it.
func (g Gate) Reserve(ctx context.Context, key string) (bool, time.Duration, error) {
	return g.Rule.Allow(ctx, g.Limiter, key)
}

// Refund takes back one attempt of key.
func (g Gate) Refund(ctx context.Context, key string) error {
	return g.Limiter.Refund(ctx, g.Rule.Scope, key, g.Rule.Window)
}

// ErrBadRule is returned for a non-positive limit or window, or an empty
// or over-long scope.
var ErrBadRule = errors.New("ratelimit: bad rule")

func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func bucketMS(window time.Duration) int64 {
	return max(window.Milliseconds()/buckets, 1)
}

// Allow records one event for (scope, key) and reports whether it is
// within limit events per window. A refused event is not recorded;
// retryAfter then says when one would next be allowed (a lower bound).
//
// The increment is one conditional UPDATE (or an INSERT racing on the
// primary key), confirmed by a re-read of the whole window after it (see
// confirm), so concurrent callers on any number of instances never pass
// more than limit, across bucket boundaries too.
func (l *Limiter) Allow(ctx context.Context, scope, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	if limit <= 0 || window <= 0 || scope == "" || len(scope) > 64 {
		return false, 0, ErrBadRule
	}
	g := l.g.WithContext(ctx)
	now := l.now().UTC()
	bs := bucketMS(window)
	wms := window.Milliseconds()
	cur := now.UnixMilli() / bs
	lo := (now.UnixMilli() - wms) / bs // first bucket overlapping (now-window, now]
	kh := hashKey(key)

	var rows []counter
	if err := g.Where("scope = ? AND key_hash = ? AND window_ms = ? AND bucket >= ? AND bucket < ?", scope, kh, wms, lo, cur).
		Find(&rows).Error; err != nil {
		return false, 0, fmt.Errorf("ratelimit: %w", err)
	}
	closed := 0
	for _, r := range rows {
		closed += r.Count
	}
	room := limit - closed
	// Two kinds of rerun: losing the race to create the bucket (bounded by
	// races), and a conflict that rolled the statement back (a deadlock
	// victim, or a Galera certification failure when callers on several
	// nodes take from one bucket at once). Conflicts are waited out with a
	// jittered pause, like db.Retry: a few in a row under a burst are
	// normal, and giving up early would refuse callers the limit still
	// has room for.
	conflicts := 0
	for races := 0; races < 5 && room > 0; {
		res := g.Model(&counter{}).
			Where("scope = ? AND key_hash = ? AND window_ms = ? AND bucket = ? AND count < ?", scope, kh, wms, cur, room).
			Update("count", gorm.Expr("count + 1"))
		if res.Error != nil {
			if db.Conflict(res.Error) {
				if err := l.afterConflict(ctx, &conflicts, res.Error); err != nil {
					return false, 0, err
				}
				continue // nothing was counted, try again
			}
			return false, 0, fmt.Errorf("ratelimit: %w", res.Error)
		}
		if res.RowsAffected == 1 {
			return l.confirm(ctx, scope, kh, wms, lo, bs, cur, limit, now)
		}
		// Nothing changed: the bucket is full, or it did not exist yet. It
		// may have been created since the UPDATE looked, so a bucket found
		// now is full only if its count says so; otherwise take again.
		var held []int
		if err := g.Model(&counter{}).Where("scope = ? AND key_hash = ? AND window_ms = ? AND bucket = ?", scope, kh, wms, cur).
			Pluck("count", &held).Error; err != nil {
			return false, 0, fmt.Errorf("ratelimit: %w", err)
		}
		if len(held) == 1 {
			if held[0] >= room {
				break // the bucket exists and is full
			}
			races++
			continue
		}
		err := g.Create(&counter{Scope: scope, KeyHash: kh, WindowMS: wms, Bucket: cur, Count: 1,
			ExpiresAt: time.UnixMilli((cur+1)*bs + wms).UTC()}).Error
		if err == nil {
			return l.confirm(ctx, scope, kh, wms, lo, bs, cur, limit, now)
		}
		switch {
		case db.Conflict(err):
			if err := l.afterConflict(ctx, &conflicts, err); err != nil {
				return false, 0, err
			}
		case errors.Is(err, gorm.ErrDuplicatedKey):
			races++ // another caller created the bucket first: update it instead
		default:
			return false, 0, fmt.Errorf("ratelimit: %w", err)
		}
	}
	return false, l.retryAfter(ctx, scope, kh, wms, lo, bs, now), nil
}

// maxConflicts bounds the conflicts one Allow waits out; beyond it the
// database is failing, not racing, and the caller is told so.
const maxConflicts = 12

// afterConflict counts a conflict and pauses (full jitter over 2, 4, 8 ...
// ms, capped at 256 ms) so racers part; past maxConflicts it returns the
// error to report.
func (l *Limiter) afterConflict(ctx context.Context, n *int, err error) error {
	*n++
	db.Retries.WithLabelValues("ratelimit.take").Inc()
	if *n >= maxConflicts {
		return fmt.Errorf("ratelimit: %d conflicts in a row: %w", *n, err)
	}
	pause := time.Duration(rand.Int64N(int64(time.Millisecond) << min(*n, 8))) // #nosec G404 -- jitter, not a secret
	select {
	case <-ctx.Done():
		return fmt.Errorf("ratelimit: %w", ctx.Err())
	case <-time.After(pause):
		return nil
	}
}

// confirm re-reads the window after an increment and takes the event back
// if the window now holds more than limit. The conditional UPDATE alone is
// exact within one bucket, but "closed" buckets are read before it: a
// caller that picked the old bucket a moment before the boundary can still
// add to it after a caller in the new bucket has read it, and both pass.
// Counting every bucket from the window's start, later ones included,
// after our own increment closes that gap: of any set of passing events,
// the last one to increment sees all the others.
func (l *Limiter) confirm(ctx context.Context, scope, kh string, wms, lo, bs, cur int64, limit int, now time.Time) (bool, time.Duration, error) {
	g := l.g.WithContext(ctx)
	var n int64
	if err := g.Model(&counter{}).Select("COALESCE(SUM(count), 0)").
		Where("scope = ? AND key_hash = ? AND window_ms = ? AND bucket >= ?", scope, kh, wms, lo).
		Scan(&n).Error; err != nil {
		return false, 0, fmt.Errorf("ratelimit: %w", err)
	}
	if n <= int64(limit) {
		return true, 0, nil
	}
	// A failed take-back leaves the event counted: stricter, never looser,
	// so the event is refused either way.
	_ = g.Model(&counter{}).Where("scope = ? AND key_hash = ? AND window_ms = ? AND bucket = ? AND count > 0", scope, kh, wms, cur).
		Update("count", gorm.Expr("count - 1")).Error
	return false, l.retryAfter(ctx, scope, kh, wms, lo, bs, now), nil
}

// retryAfter is the time until the oldest counted bucket leaves the window.
func (l *Limiter) retryAfter(ctx context.Context, scope, kh string, wms, lo, bs int64, now time.Time) time.Duration {
	var first counter
	err := l.g.WithContext(ctx).Where("scope = ? AND key_hash = ? AND window_ms = ? AND bucket >= ? AND count > 0", scope, kh, wms, lo).
		Order("bucket").Take(&first).Error
	if err != nil {
		return time.Duration(bs) * time.Millisecond
	}
	free := time.UnixMilli((first.Bucket+1)*bs + wms)
	return max(free.Sub(now), time.Millisecond)
}

// Count returns how many events (scope, key) has in the window ending now,
// without recording one.
func (l *Limiter) Count(ctx context.Context, scope, key string, window time.Duration) (int, error) {
	now := l.now().UTC()
	bs, wms := bucketMS(window), window.Milliseconds()
	var n int64
	err := l.g.WithContext(ctx).Model(&counter{}).Select("COALESCE(SUM(count), 0)").
		Where("scope = ? AND key_hash = ? AND window_ms = ? AND bucket >= ?", scope, hashKey(key), wms, (now.UnixMilli()-wms)/bs).
		Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("ratelimit: count: %w", err)
	}
	return int(n), nil
}

// Refund takes back one event of (scope, key) recorded by Allow within the
// window, for callers that reserve an attempt before an expensive check
// and learn afterwards that it must not count (a successful sign-in). The
// newest bucket still counting is decremented, never below zero; with no
// event left in the window it does nothing.
func (l *Limiter) Refund(ctx context.Context, scope, key string, window time.Duration) error {
	now := l.now().UTC()
	bs, wms := bucketMS(window), window.Milliseconds()
	kh := hashKey(key)
	g := l.g.WithContext(ctx)
	var last counter
	err := g.Where("scope = ? AND key_hash = ? AND window_ms = ? AND bucket >= ? AND count > 0", scope, kh, wms, (now.UnixMilli()-wms)/bs).
		Order("bucket DESC").Take(&last).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ratelimit: refund: %w", err)
	}
	err = g.Model(&counter{}).Where("scope = ? AND key_hash = ? AND window_ms = ? AND bucket = ? AND count > 0", scope, kh, wms, last.Bucket).
		Update("count", gorm.Expr("count - 1")).Error
	if err != nil {
		return fmt.Errorf("ratelimit: refund: %w", err)
	}
	return nil
}

// Reset forgets every count of (scope, key), e.g. after a success.
func (l *Limiter) Reset(ctx context.Context, scope, key string) error {
	if err := l.g.WithContext(ctx).Where("scope = ? AND key_hash = ?", scope, hashKey(key)).Delete(&counter{}).Error; err != nil {
		return fmt.Errorf("ratelimit: reset: %w", err)
	}
	return nil
}

// Cleanup deletes buckets that no window can count any more.
func (l *Limiter) Cleanup(ctx context.Context) (int64, error) {
	res := l.g.WithContext(ctx).Where("expires_at < ?", l.now().UTC()).Delete(&counter{})
	if res.Error != nil {
		return 0, fmt.Errorf("ratelimit: cleanup: %w", res.Error)
	}
	return res.RowsAffected, nil
}
