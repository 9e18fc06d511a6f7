package opstore

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// Token ids sort by the time they were made (so a primary-key index of
// them grows at its end), are distinct within one millisecond, and carry
// 128 bits in 26 characters of a URL- and SQL-safe alphabet.
func TestTokenIDsSortByTime(t *testing.T) {
	start := time.Date(2026, 12, 4, 1, 0, 0, 0, time.UTC)
	var ids []string
	seen := map[string]bool{}
	for i := range 3000 {
		id := newTokenID(start.Add(time.Duration(i/100) * time.Millisecond)) // 100 per millisecond
		if len(id) != 26 || strings.Trim(id, "0123456789ABCDEFGHIJKLMNOPQRSTUV") != "" {
			t.Fatalf("id %q: want 26 characters of base32hex", id)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	for i := 100; i < len(ids); i += 100 {
		earlier, later := slices.Max(ids[i-100:i]), slices.Min(ids[i:i+100])
		if earlier >= later {
			t.Fatalf("an id of a later millisecond sorts first: %s, %s", earlier, later)
		}
	}
	// Years apart, still in order (the time is not truncated).
	if a, b := newTokenID(start), newTokenID(start.AddDate(30, 0, 0)); a >= b {
		t.Errorf("%s sorts after %s", a, b)
	}
}
