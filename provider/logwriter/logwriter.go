package logwriter

import (
	"io"
	"sync"
	"time"
)

// Defaults: buffered lines go out within FlushEvery; past MaxBuffer a
// writer waits for the flush instead of growing memory (or dropping lines)
// when the output cannot keep up.
const (
	FlushEvery = 100 * time.Millisecond
	MaxBuffer  = 1 << 20
	flushAt    = 64 << 10 // a full chunk is flushed at once, not at the tick
)

// Writer owns one output.
type Writer struct {
	out io.Writer

	io sync.Mutex // held while writing to out, so lines never interleave

	mu      sync.Mutex
	room    *sync.Cond // signalled when buf was taken
	buf     []byte
	spare   []byte
	closed  bool
	kick    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
}

// New starts the goroutine that writes out the buffered lines.
func New(out io.Writer) *Writer {
	w := &Writer{out: out, kick: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	w.room = sync.NewCond(&w.mu)
	go w.loop()
	return w
}

func (w *Writer) loop() {
	defer close(w.stopped)
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		case <-w.kick:
		}
		w.flush()
	}
}

// flush writes out everything buffered so far.
func (w *Writer) flush() {
	w.io.Lock()
	defer w.io.Unlock()
	w.flushLocked()
}

func (w *Writer) flushLocked() {
	w.mu.Lock()
	b := w.buf
	w.buf, w.spare = w.spare, nil
	if w.buf == nil {
		w.buf = make([]byte, 0, 2*flushAt)
	}
	w.room.Broadcast()
	w.mu.Unlock()
	if len(b) == 0 {
		w.giveBack(b)
		return
	}
	_, _ = w.out.Write(b) // a log line that cannot be written has nowhere else to go
	w.giveBack(b)
}

func (w *Writer) giveBack(b []byte) {
	if cap(b) > MaxBuffer+flushAt {
		return // let an overgrown buffer go
	}
	w.mu.Lock()
	if w.spare == nil && b != nil {
		w.spare = b[:0]
	}
	w.mu.Unlock()
}

// Write buffers p (one log line from a slog handler). It waits only when
// MaxBuffer is already pending; after Close it writes directly.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	for !w.closed && len(w.buf) >= MaxBuffer {
		w.room.Wait()
	}
	if w.closed {
		w.mu.Unlock()
		return w.direct(p)
	}
	w.buf = append(w.buf, p...)
	full := len(w.buf) >= flushAt
	w.mu.Unlock()
	if full {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// Direct returns a writer that writes at once, after the lines buffered
// before it.
func (w *Writer) Direct() io.Writer { return directWriter{w} }

type directWriter struct{ w *Writer }

func (d directWriter) Write(p []byte) (int, error) { return d.w.direct(p) }

func (w *Writer) direct(p []byte) (int, error) {
	w.io.Lock()
	defer w.io.Unlock()
	w.flushLocked()
	return w.out.Write(p)
}

// Close writes out every buffered line and stops the goroutine; later
// writes go straight to the output. It is safe to call more than once.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.room.Broadcast()
	w.mu.Unlock()
	close(w.stop)
	<-w.stopped
	w.flush()
	return nil
}
