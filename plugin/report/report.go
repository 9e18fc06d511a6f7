package report

import (
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// Range is the half-open time range [Since, Until) a report covers.
type Range struct {
	Since time.Time
	Until time.Time
}

// ErrRange means a range whose end is not after its start, or that spans
// more days than MaxDays.
var ErrRange = errors.New("report: the range must end after it starts and span at most 3660 days")

// MaxDays bounds the per-day reports (ten years of days is 3,660 points).
const MaxDays = 3660

// Last returns the range of the d before now.
func Last(d time.Duration, now time.Time) Range {
	return Range{Since: now.Add(-d).UTC(), Until: now.UTC()}
}

func (r Range) check() error {
	if !r.Until.After(r.Since) || r.Until.Sub(r.Since) > MaxDays*24*time.Hour {
		return ErrRange
	}
	return nil
}

func (r Range) utc() (time.Time, time.Time) { return r.Since.UTC(), r.Until.UTC() }

// Reports runs the reports on one database. It is safe for concurrent use.
type Reports struct {
	g       *gorm.DB
	dialect dialect
	now     func() time.Time
}

// Option configures Reports.
type Option func(*Reports)

// WithClock replaces time.Now, which decides who is locked now (tests).
func WithClock(now func() time.Time) Option { return func(r *Reports) { r.now = now } }

// New returns the reports on g, migrated with provider/schema and
// plugin/schema.
func New(g *gorm.DB, opts ...Option) *Reports {
	r := &Reports{g: g, dialect: sqliteDialect, now: time.Now}
	if g.Dialector.Name() == db.MySQL {
		r.dialect = mysqlDialect
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// DayCount is a count on one UTC day.
type DayCount struct {
	Day   time.Time `json:"day"`
	Count int64     `json:"count"`
}

// days lists every UTC day that [since, until) touches.
func days(since, until time.Time) []time.Time {
	d := time.Date(since.Year(), since.Month(), since.Day(), 0, 0, 0, 0, time.UTC)
	var out []time.Time
	for ; d.Before(until); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return out
}

// parseDay reads the YYYY-MM-DD the day expression gives.
func parseDay(s string) (time.Time, error) {
	return time.Parse(time.DateOnly, s)
}
