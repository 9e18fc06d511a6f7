package logwriter_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/latchkeyid/latchkey/provider/logwriter"
)

// gate is an output that blocks every write until opened, like a full
// pipe or a stalled terminal.
type gate struct {
	open chan struct{}
	mu   sync.Mutex
	b    bytes.Buffer
}

func (g *gate) Write(p []byte) (int, error) {
	<-g.open
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.b.Write(p)
}

func (g *gate) String() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.b.String()
}

// Requests keep logging while the output is stuck; once it moves and the
// writer closes, every line is there, whole, and a direct line comes after
// the buffered lines written before it.
func TestLinesNeverBlockNorGetLost(t *testing.T) {
	out := &gate{open: make(chan struct{})}
	w := logwriter.New(out)
	const goroutines, each = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			l := slog.New(slog.NewJSONHandler(w, nil))
			for i := range each {
				l.Info("request", "g", g, "i", i)
			}
		})
	}
	wg.Wait() // would hang here if a line waited for the stuck output
	done := make(chan struct{})
	go func() {
		_, _ = fmt.Fprintln(w.Direct(), "direct line")
		close(done)
	}()
	close(out.open)
	<-done
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("after close\n"))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if want := goroutines*each + 2; len(lines) != want {
		t.Fatalf("%d lines, want %d", len(lines), want)
	}
	seen := map[string]bool{}
	for _, l := range lines[:goroutines*each] {
		if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") || !strings.Contains(l, `"msg":"request"`) {
			t.Fatalf("broken line %q", l)
		}
		seen[l[strings.Index(l, `"g"`):]] = true
	}
	if len(seen) != goroutines*each {
		t.Fatalf("%d distinct lines, want %d", len(seen), goroutines*each)
	}
	if lines[len(lines)-2] != "direct line" || lines[len(lines)-1] != "after close" {
		t.Fatalf("last lines %q, want the direct line after the buffered ones, then the line after Close", lines[len(lines)-2:])
	}
}

// BenchmarkAccessLine compares one JSON access-log line per request
// written straight to a file with the same line through the buffer.
func BenchmarkAccessLine(b *testing.B) {
	for _, mode := range []string{"file-direct", "file-buffered", "pipe-direct", "pipe-buffered"} {
		b.Run(mode, func(b *testing.B) {
			var f *os.File
			if strings.HasPrefix(mode, "file") {
				var err error
				if f, err = os.Create(filepath.Join(b.TempDir(), "log")); err != nil {
					b.Fatal(err)
				}
			} else {
				// A pipe drained by a reader, as stderr under a log shipper.
				r, pw, err := os.Pipe()
				if err != nil {
					b.Fatal(err)
				}
				go func() { _, _ = io.Copy(io.Discard, r) }()
				defer r.Close()
				f = pw
			}
			defer f.Close()
			w := logwriter.New(f)
			defer w.Close()
			out := w.Direct()
			if strings.HasSuffix(mode, "buffered") {
				out = w
			}
			l := slog.New(slog.NewJSONHandler(out, nil))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l.Info("request", "method", "POST", "path", "/oauth/token", "status", 200,
						"duration", 1234567, "bytes", 312, "ip", "127.0.0.1", "request_id", "0123456789abcdef0123456789abcdef")
				}
			})
		})
	}
}
