package report_test

import (
	"errors"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/report"
)

// --since takes days, durations, dates and times; --until dates and times.
func TestParseRange(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, since, until string
		want               report.Range
	}{
		{"days", "7d", "", report.Range{Since: now.AddDate(0, 0, -7), Until: now}},
		{"duration", "36h", "", report.Range{Since: now.Add(-36 * time.Hour), Until: now}},
		{"dates", "2026-03-01", "2026-03-04", report.Range{Since: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)}},
		{"time-in-a-zone", "2026-03-01T12:00:00+02:00", "", report.Range{Since: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Until: now}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := report.ParseRange(tt.since, tt.until, now)
			if err != nil || got != tt.want {
				t.Errorf("report.ParseRange(%q, %q) = %v, %v; want %v", tt.since, tt.until, got, err, tt.want)
			}
		})
	}
}

// Every problem of a range is named with its field.
func TestParseRangeProblems(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name, since, until string
		fields             []string
	}{
		{"both-bad", "yesterday", "soon", []string{"until", "since"}},
		{"negative-duration", "-5h", "", []string{"since"}},
		{"reversed", "2026-03-04", "2026-03-01", []string{"range"}},
		{"too-long", "2000-01-01", "2026-01-01", []string{"range"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := report.ParseRange(tt.since, tt.until, now)
			var re *report.RangeError
			if !errors.As(err, &re) || len(re.Problems) != len(tt.fields) {
				t.Fatalf("ParseRange = %v, want problems %v", err, tt.fields)
			}
			for i, f := range tt.fields {
				if re.Problems[i].Field != f {
					t.Errorf("problem %d is %+v, want field %s", i, re.Problems[i], f)
				}
			}
		})
	}
}
