package phone

import (
	"math/rand/v2"
	"sync"
	"time"
)

// A decoy (an unknown name) must not answer faster than a real send, which
// waits for the gateway. Replaying an average would not do: a real send's
// time varies, a decoy's would not. So each channel keeps its last
// latencyWindow gateway latencies and a decoy waits one of them, drawn at
// random: its waits follow the gateway's recent distribution, and move
// with it.
const latencyWindow = 64

// priorLatency is what a decoy waits before any real send was timed on
// its channel (a typical SMS/voice API answer).
const priorLatency = 300 * time.Millisecond

// latencies is a ring of recent gateway latencies. It is safe for
// concurrent use.
type latencies struct {
	mu   sync.Mutex
	ring []time.Duration
	next int
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ring) < latencyWindow {
		l.ring = append(l.ring, d)
		return
	}
	l.ring[l.next] = d
	l.next = (l.next + 1) % latencyWindow
}

// draw returns one of the recent latencies, priorLatency when none.
func (l *latencies) draw() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ring) == 0 {
		return priorLatency
	}
	return l.ring[rand.IntN(len(l.ring))] // #nosec G404 -- picks a wait among recent latencies; nothing secret depends on it
}
