package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RangeProblem is one thing wrong with a requested range: the field
// ("since", "until", or "range" for the two together) and why.
type RangeProblem struct {
	Field, Message string
}

// RangeError lists every problem of a requested range.
type RangeError struct{ Problems []RangeProblem }

func (e *RangeError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = "--" + p.Field + ": " + p.Message
		if p.Field == "range" {
			msgs[i] = p.Message
		}
	}
	return strings.Join(msgs, "; ")
}

// ParseRange reads the start of a period (a duration before the end, with
// d for days, or a UTC date or time) and its end (a date or time; now when
// empty), as `latchkey report --since/--until` and the admin API take
// them. Every problem is reported, as a *RangeError.
func ParseRange(since, until string, now time.Time) (Range, error) {
	var errs []RangeProblem
	rg := Range{Until: now.UTC()}
	if until != "" {
		t, err := ParseWhen(until)
		if err != nil {
			errs = append(errs, RangeProblem{"until", err.Error()})
		}
		rg.Until = t
	}
	if d, ok := parseDays(since); ok {
		rg.Since = rg.Until.Add(-d)
	} else if d, err := time.ParseDuration(since); err == nil {
		if d <= 0 {
			errs = append(errs, RangeProblem{"since", "a duration must be positive"})
		}
		rg.Since = rg.Until.Add(-d)
	} else if t, err := ParseWhen(since); err != nil {
		errs = append(errs, RangeProblem{"since", err.Error() + " (or a duration: 30d, 36h)"})
	} else {
		rg.Since = t
	}
	if len(errs) == 0 && rg.check() != nil {
		errs = append(errs, RangeProblem{"range", fmt.Sprintf("since must be before until, at most %d days before", MaxDays)})
	}
	if len(errs) > 0 {
		return rg, &RangeError{errs}
	}
	return rg, nil
}

func parseDays(s string) (time.Duration, bool) {
	n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
	if !strings.HasSuffix(s, "d") || err != nil || n <= 0 || n > MaxDays {
		return 0, false
	}
	return time.Duration(n) * 24 * time.Hour, true
}

// ParseWhen reads a UTC date (2026-03-01), an RFC 3339 time or a time
// without seconds (2026-03-01T12:00).
func ParseWhen(s string) (time.Time, error) {
	for _, layout := range []string{time.DateOnly, time.RFC3339Nano, "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2026-03-01) or time (2026-03-01T12:00:00Z)", s)
}
