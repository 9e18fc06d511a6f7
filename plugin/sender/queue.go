package sender

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// outboxRow is the live model of sspr_outbox (frozen copy: plugin/schema).
// Body is the sealed JSON of the Message; it is cleared once sent.
type outboxRow struct {
	ID        string     `gorm:"primaryKey;size:32"`
	Channel   string     `gorm:"size:16;not null"`
	Kind      string     `gorm:"size:32;not null"`
	Body      []byte     `gorm:"type:blob"`
	Attempts  int        `gorm:"not null"`
	NextAt    time.Time  `gorm:"precision:6;not null;index"`
	ClaimedBy string     `gorm:"size:32;not null"`
	ClaimedAt *time.Time `gorm:"precision:6"`
	CreatedAt time.Time  `gorm:"precision:6;not null"`
	SentAt    *time.Time `gorm:"precision:6;index"`
	LastError string     `gorm:"size:200;not null"`
}

func (outboxRow) TableName() string { return "sspr_outbox" }

// Queue is the durable outbox and its dispatcher.
type Queue struct {
	g        *gorm.DB
	box      *secret.Box
	senders  map[Channel]Sender
	now      func() time.Time
	wake     chan struct{}
	poll     time.Duration
	lease    time.Duration
	maxTries int
	workers  int
	instance string
	log      *slog.Logger
}

// QueueOption configures a Queue.
type QueueOption func(*Queue)

// WithQueueClock injects the clock (tests).
func WithQueueClock(now func() time.Time) QueueOption { return func(q *Queue) { q.now = now } }

// WithPoll sets how often the dispatcher looks for messages queued by other
// instances (default 2 s).
func WithPoll(d time.Duration) QueueOption { return func(q *Queue) { q.poll = d } }

// WithMaxAttempts sets how many sends are tried before a message is dropped
// (default 8, with exponential backoff from 5 s).
func WithMaxAttempts(n int) QueueOption { return func(q *Queue) { q.maxTries = n } }

// WithWorkers sets how many messages one instance sends at once
// (default 4).
func WithWorkers(n int) QueueOption {
	return func(q *Queue) {
		if n > 0 {
			q.workers = n
		}
	}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) QueueOption { return func(q *Queue) { q.log = l } }

// NewQueue returns a queue that delivers through senders (one per channel).
func NewQueue(g *gorm.DB, keys *secret.Keyring, senders []Sender, opts ...QueueOption) *Queue {
	q := &Queue{g: g, box: keys.Box("outbox"), senders: map[Channel]Sender{},
		now: func() time.Time { return time.Now().UTC() }, wake: make(chan struct{}, 1),
		poll: 2 * time.Second, lease: time.Minute, maxTries: 8, workers: 4, instance: rand.Text(), log: slog.Default()}
	for _, s := range senders {
		q.senders[s.Channel()] = s
	}
	for _, o := range opts {
		o(q)
	}
	return q
}

// Available reports whether messages of ch can be delivered.
func (q *Queue) Available(ch Channel) bool { _, ok := q.senders[ch]; return ok }

// Enqueue stores m for delivery. Use EnqueueTx inside a transaction.
func (q *Queue) Enqueue(ctx context.Context, m Message) error {
	return q.EnqueueTx(q.g.WithContext(ctx), m)
}

// EnqueueTx stores m through tx, so the message is sent only if tx
// commits. The dispatcher is woken when the row is visible (after commit
// for a transaction; at once otherwise, the poll catches the rest).
func (q *Queue) EnqueueTx(tx *gorm.DB, m Message) error {
	if !q.Available(m.Channel) {
		return fmt.Errorf("sender: enqueue %s: %w", m.Channel, ErrNoSender)
	}
	if m.To == "" {
		return fmt.Errorf("sender: enqueue: empty recipient")
	}
	plain, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("sender: enqueue: %w", err)
	}
	id := rand.Text()
	now := q.now().UTC()
	r := outboxRow{ID: id, Channel: string(m.Channel), Kind: m.Kind, Body: q.box.Seal(plain, []byte(id)), NextAt: now, CreatedAt: now}
	if err := tx.Create(&r).Error; err != nil {
		return fmt.Errorf("sender: enqueue: %w", err)
	}
	q.Wake()
	return nil
}

// EnqueueDecoy does the work of Enqueue for a message that must not be
// sent (a recovery decoy's code): it is marshalled, sealed and written as
// Enqueue does, but the row is born delivered, without its body, so the
// dispatcher never sees it and Cleanup removes it with the sent ones. A
// decoy's send then costs what a real one costs.
func (q *Queue) EnqueueDecoy(ctx context.Context, m Message) error {
	if !q.Available(m.Channel) {
		return fmt.Errorf("sender: enqueue %s: %w", m.Channel, ErrNoSender)
	}
	plain, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("sender: enqueue: %w", err)
	}
	id := rand.Text()
	now := q.now().UTC()
	_ = q.box.Seal(plain, []byte(id))
	r := outboxRow{ID: id, Channel: string(m.Channel), Kind: m.Kind, NextAt: now, CreatedAt: now, SentAt: &now, LastError: "decoy: not sent"}
	if err := q.g.WithContext(ctx).Create(&r).Error; err != nil {
		return fmt.Errorf("sender: enqueue: %w", err)
	}
	return nil
}

// Wake asks the dispatcher to look for work now.
func (q *Queue) Wake() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run dispatches until ctx ends. Start one per instance; several
// instances share the table safely (rows are claimed atomically).
func (q *Queue) Run(ctx context.Context) {
	t := time.NewTicker(q.poll)
	defer t.Stop()
	for {
		if _, err := q.Drain(ctx); err != nil && ctx.Err() == nil {
			q.log.Warn("sender: dispatch", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
			// Wake arrives before a surrounding transaction commits; a short
			// pause lets it land, and the poll catches anything later.
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		case <-t.C:
		}
	}
}

// Drain sends every message due now, up to the worker count at a time, and
// returns how many were sent.
func (q *Queue) Drain(ctx context.Context) (int, error) {
	var (
		sent atomic.Int64
		wg   sync.WaitGroup
		sem  = make(chan struct{}, q.workers)
	)
	defer wg.Wait()
	for {
		r, ok, err := q.claim(ctx)
		if err != nil || !ok {
			wg.Wait()
			return int(sent.Load()), err
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if q.deliver(ctx, r) {
				sent.Add(1)
			}
		})
	}
}

// claim takes one due row for this instance: a conditional UPDATE on the
// row's previous claim, so two dispatchers never take the same message. A
// claim older than the lease (a crashed instance) can be taken again.
func (q *Queue) claim(ctx context.Context) (outboxRow, bool, error) {
	g := q.g.WithContext(ctx)
	now := q.now().UTC()
	stale := now.Add(-q.lease)
	for range 5 {
		var r outboxRow
		err := g.Where("sent_at IS NULL AND next_at <= ? AND (claimed_at IS NULL OR claimed_at < ?)", now, stale).
			Order("next_at, id").Limit(1).Take(&r).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return outboxRow{}, false, nil
		}
		if err != nil {
			return outboxRow{}, false, fmt.Errorf("sender: claim: %w", err)
		}
		cond := g.Model(&outboxRow{}).Where("id = ? AND sent_at IS NULL AND claimed_by = ?", r.ID, r.ClaimedBy)
		if r.ClaimedAt == nil {
			cond = cond.Where("claimed_at IS NULL")
		} else {
			cond = cond.Where("claimed_at = ?", *r.ClaimedAt)
		}
		res := cond.Updates(map[string]any{"claimed_by": q.instance, "claimed_at": now})
		if res.Error != nil {
			if db.Conflict(res.Error) {
				db.Retries.WithLabelValues("outbox.claim").Inc()
				continue // another dispatcher holds the row: take the next
			}
			return outboxRow{}, false, fmt.Errorf("sender: claim: %w", res.Error)
		}
		if res.RowsAffected == 1 {
			return r, true, nil
		}
	}
	return outboxRow{}, false, nil // contended: the next wake or poll retries
}

// deliver sends one claimed row and records the outcome.
func (q *Queue) deliver(ctx context.Context, r outboxRow) bool {
	g := q.g.WithContext(ctx)
	plain, err := q.box.Open(r.Body, []byte(r.ID))
	var m Message
	if err == nil {
		err = json.Unmarshal(plain, &m)
	}
	if err != nil {
		q.finish(g, r, false, fmt.Errorf("%w: unreadable body: %w", ErrPermanent, err))
		return false
	}
	s, ok := q.senders[m.Channel]
	if !ok {
		q.finish(g, r, false, fmt.Errorf("%w: %w", ErrPermanent, ErrNoSender))
		return false
	}
	sendCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = s.Send(sendCtx, m)
	cancel()
	q.finish(g, r, err == nil, err)
	return err == nil
}

// finish records a send: on success (or a permanent failure, or too many
// tries) the sealed body is erased; otherwise the row is released with an
// exponential backoff.
func (q *Queue) finish(g *gorm.DB, r outboxRow, ok bool, err error) {
	now := q.now().UTC()
	attempts := r.Attempts + 1
	cols := map[string]any{"attempts": attempts, "claimed_by": "", "claimed_at": nil}
	switch {
	case ok:
		cols["sent_at"], cols["body"], cols["last_error"] = now, nil, ""
	case errors.Is(err, ErrPermanent) || attempts >= q.maxTries:
		cols["sent_at"], cols["body"], cols["last_error"] = now, nil, short(err)
		q.log.Error("sender: message dropped", "id", r.ID, "kind", r.Kind, "channel", r.Channel, "attempts", attempts, "err", short(err))
	default:
		backoff := 5 * time.Second << min(attempts-1, 10)
		cols["next_at"], cols["last_error"] = now.Add(backoff), short(err)
		q.log.Warn("sender: send failed, will retry", "id", r.ID, "kind", r.Kind, "attempts", attempts, "err", short(err))
	}
	if err := g.Model(&outboxRow{}).Where("id = ? AND claimed_by = ?", r.ID, q.instance).Updates(cols).Error; err != nil {
		q.log.Warn("sender: record send", "id", r.ID, "err", err)
	}
}

// addrRE finds email addresses and phone numbers in a gateway's error text.
var addrRE = regexp.MustCompile(`[^\s<>"']+@[^\s<>"']+|\+[0-9][0-9 ().-]{6,}[0-9]`)

// short is the error text kept in the row and the log: at most 200 bytes,
// with recipients (echoed by many servers, "550 <bob@example.com>: no such
// user") replaced, so neither holds an address in the clear.
func short(err error) string {
	if err == nil {
		return ""
	}
	s := addrRE.ReplaceAllString(err.Error(), "[recipient]")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// Pending counts messages not yet sent (readiness and tests).
func (q *Queue) Pending(ctx context.Context) (int64, error) {
	var n int64
	err := q.g.WithContext(ctx).Model(&outboxRow{}).Where("sent_at IS NULL").Count(&n).Error
	return n, err
}

// Cleanup deletes sent rows older than before (their bodies are gone
// already; the rows keep delivery history for a while).
func (q *Queue) Cleanup(ctx context.Context, before time.Time) error {
	return q.g.WithContext(ctx).Where("sent_at IS NOT NULL AND sent_at < ?", before.UTC()).
		Delete(&outboxRow{}).Error
}
