package outbox

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/latchkeyid/latchkey/plugin/sender"
)

// Record is one message as received.
type Record struct {
	sender.Message
	At time.Time
}

// Outbox stores messages of every channel. The zero value is not usable;
// call New.
type Outbox struct {
	mu    sync.Mutex
	msgs  []Record
	max   int
	delay time.Duration
	fail  error
	added chan struct{}
}

// Option configures an Outbox.
type Option func(*Outbox)

// WithDelay makes every Send take d (checklist 2: a slow sender must not
// slow the request that queued the message).
func WithDelay(d time.Duration) Option { return func(o *Outbox) { o.delay = d } }

// WithMax keeps only the newest n messages (default 500).
func WithMax(n int) Option { return func(o *Outbox) { o.max = n } }

// New returns an empty outbox.
func New(opts ...Option) *Outbox {
	o := &Outbox{max: 500, added: make(chan struct{})}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// Fail makes every later Send return err (nil restores success); tests use
// it to exercise retries.
func (o *Outbox) Fail(err error) { o.mu.Lock(); o.fail = err; o.mu.Unlock() }

// Sender returns a sender.Sender for ch that records into o.
func (o *Outbox) Sender(ch sender.Channel) sender.Sender { return channelSender{o, ch} }

// Channel implements sender.Sender for email, so an *Outbox can stand in
// for the SMTP sender directly.
func (o *Outbox) Channel() sender.Channel { return sender.Email }

// Send implements sender.Sender.
func (o *Outbox) Send(ctx context.Context, m sender.Message) error { return o.record(ctx, m) }

type channelSender struct {
	o  *Outbox
	ch sender.Channel
}

func (c channelSender) Channel() sender.Channel { return c.ch }
func (c channelSender) Send(ctx context.Context, m sender.Message) error {
	return c.o.record(ctx, m)
}

var (
	_ sender.Sender = (*Outbox)(nil)
	_ sender.Sender = channelSender{}
)

func (o *Outbox) record(ctx context.Context, m sender.Message) error {
	if o.delay > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.delay):
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	o.msgs = append(o.msgs, Record{Message: m, At: time.Now().UTC()})
	if len(o.msgs) > o.max {
		o.msgs = slices.Delete(o.msgs, 0, len(o.msgs)-o.max)
	}
	close(o.added)
	o.added = make(chan struct{})
	return nil
}

// Messages returns a copy of every message, oldest first.
func (o *Outbox) Messages() []Record {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.msgs)
}

// To returns the messages sent to addr, oldest first.
func (o *Outbox) To(addr string) []Record {
	var out []Record
	for _, r := range o.Messages() {
		if r.To == addr {
			out = append(out, r)
		}
	}
	return out
}

// Wait blocks until a message to addr arrives that matches (nil: any),
// counting messages already there, or ctx ends.
func (o *Outbox) Wait(ctx context.Context, addr string, match func(Record) bool) (Record, error) {
	for {
		o.mu.Lock()
		for i := len(o.msgs) - 1; i >= 0; i-- {
			r := o.msgs[i]
			if r.To == addr && (match == nil || match(r)) {
				o.mu.Unlock()
				return r, nil
			}
		}
		ch := o.added
		o.mu.Unlock()
		select {
		case <-ctx.Done():
			return Record{}, ctx.Err()
		case <-ch:
		}
	}
}

var codeRE = regexp.MustCompile(`\b[0-9]{8}\b`)

// Code returns the first 8-digit code in the newest message to addr ("" if
// none).
func (o *Outbox) Code(addr string) string {
	msgs := o.To(addr)
	if len(msgs) == 0 {
		return ""
	}
	return codeRE.FindString(msgs[len(msgs)-1].Text)
}

// Clear forgets every message.
func (o *Outbox) Clear() { o.mu.Lock(); o.msgs = nil; o.mu.Unlock() }

// Renderer is the part of ui.Renderer the page needs.
type Renderer interface {
	Render(w io.Writer, r *http.Request, page string, data any) error
}

// Page is the data of the "dev-outbox" template.
type Page struct {
	Messages []Record // newest first
}

// Handler serves the /dev/outbox page. Mount it only in dev mode.
func (o *Outbox) Handler(r Renderer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		msgs := o.Messages()
		slices.Reverse(msgs)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := r.Render(w, req, "dev-outbox", Page{Messages: msgs}); err != nil {
			http.Error(w, "cannot render the outbox", http.StatusInternalServerError)
		}
	})
}
