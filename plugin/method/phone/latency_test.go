package phone

import (
	"slices"
	"testing"
	"time"
)

// A decoy's wait is drawn from what real sends took: before any, the
// prior; after some, only observed values, the old ones leaving the
// window as new ones come.
func TestDecoyWaitFollowsGateway(t *testing.T) {
	var l latencies
	if d := l.draw(); d != priorLatency {
		t.Fatalf("empty: %v, want the prior %v", d, priorLatency)
	}
	for i := range latencyWindow {
		l.add(time.Duration(i+1) * time.Millisecond)
	}
	seen := map[time.Duration]bool{}
	for range 2000 {
		d := l.draw()
		if d < time.Millisecond || d > latencyWindow*time.Millisecond {
			t.Fatalf("drew %v, never observed", d)
		}
		seen[d] = true
	}
	if len(seen) < latencyWindow/2 {
		t.Fatalf("draws are not spread over the observed latencies: %d distinct", len(seen))
	}
	for range latencyWindow {
		l.add(2 * time.Second)
	}
	if !slices.Equal(slices.Compact(slices.Clone(l.ring)), []time.Duration{2 * time.Second}) {
		t.Fatalf("the window kept old latencies: %v", l.ring)
	}
}
