package sender_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/plugin/sender/outbox"
	"github.com/latchkeyid/latchkey/provider/clocktest"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/secret"
)

func msg(to string) sender.Message {
	return sender.Message{Channel: sender.Email, To: to, Subject: "Your code", Text: "code 12345678", HTML: "<p>code 12345678</p>", Kind: "code"}
}

func keys(t *testing.T) *secret.Keyring {
	k, _ := secret.Parse(secret.Generate())
	return k
}

func TestQueue(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		t.Run("sealed-until-sent-then-erased", func(t *testing.T) {
			box := outbox.New()
			q := sender.NewQueue(g, keys(t), []sender.Sender{box})
			if err := q.Enqueue(ctx, msg("a@example.com")); err != nil {
				t.Fatal(err)
			}
			var bodies [][]byte
			g.Table("sspr_outbox").Where("sent_at IS NULL").Pluck("body", &bodies)
			if len(bodies) != 1 || bytes.Contains(bodies[0], []byte("12345678")) || bytes.Contains(bodies[0], []byte("a@example.com")) {
				t.Fatalf("queued body not sealed: %q", bodies)
			}
			if n, err := q.Drain(ctx); err != nil || n != 1 {
				t.Fatalf("Drain = %d, %v", n, err)
			}
			got := box.To("a@example.com")
			if len(got) != 1 || got[0].HTML != "<p>code 12345678</p>" || got[0].Text != "code 12345678" {
				t.Fatalf("delivered %+v", got)
			}
			var left int64
			g.Table("sspr_outbox").Where("body IS NOT NULL").Count(&left)
			if left != 0 {
				t.Fatalf("%d bodies kept after sending", left)
			}
		})
		t.Run("transaction-rollback-sends-nothing", func(t *testing.T) {
			box := outbox.New()
			q := sender.NewQueue(g, keys(t), []sender.Sender{box})
			err := g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				if err := q.EnqueueTx(tx, msg("rollback@example.com")); err != nil {
					return err
				}
				return errors.New("injected failure")
			})
			if err == nil {
				t.Fatal("transaction committed")
			}
			q.Drain(ctx)
			if len(box.To("rollback@example.com")) != 0 {
				t.Fatal("message of a rolled-back transaction was sent")
			}
		})
		t.Run("retry-with-backoff", func(t *testing.T) {
			clk := clocktest.At(time.Now().UTC())
			box := outbox.New()
			q := sender.NewQueue(g, keys(t), []sender.Sender{box}, sender.WithQueueClock(clk.Now), sender.WithMaxAttempts(3))
			box.Fail(errors.New("451 try later"))
			q.Enqueue(ctx, msg("retry@example.com"))
			if n, _ := q.Drain(ctx); n != 0 {
				t.Fatal("sent despite failure")
			}
			box.Fail(nil)
			if n, _ := q.Drain(ctx); n != 0 {
				t.Fatal("retried before the backoff")
			}
			clk.Advance(6 * time.Second)
			if n, _ := q.Drain(ctx); n != 1 || len(box.To("retry@example.com")) != 1 {
				t.Fatal("not retried after the backoff")
			}
		})
		t.Run("dropped-after-max-attempts-and-permanent", func(t *testing.T) {
			clk := clocktest.At(time.Now().UTC())
			box := outbox.New()
			q := sender.NewQueue(g, keys(t), []sender.Sender{box}, sender.WithQueueClock(clk.Now), sender.WithMaxAttempts(2))
			box.Fail(errors.New("451 try later"))
			q.Enqueue(ctx, msg("drop@example.com"))
			q.Drain(ctx)
			clk.Advance(time.Minute)
			q.Drain(ctx)
			box.Fail(nil)
			clk.Advance(time.Hour)
			if n, _ := q.Drain(ctx); n != 0 {
				t.Fatal("sent after max attempts")
			}
			box.Fail(sender.ErrPermanent)
			q.Enqueue(ctx, msg("perm@example.com"))
			q.Drain(ctx)
			box.Fail(nil)
			clk.Advance(time.Hour)
			if n, _ := q.Drain(ctx); n != 0 {
				t.Fatal("permanent failure retried")
			}
		})
		t.Run("two-dispatchers-send-each-message-once", func(t *testing.T) {
			var sent atomic.Int32
			box := outbox.New()
			k := keys(t)
			q1 := sender.NewQueue(g, k, []sender.Sender{box})
			q2 := sender.NewQueue(g, k, []sender.Sender{box})
			for range 30 {
				q1.Enqueue(ctx, msg("many@example.com"))
			}
			var wg sync.WaitGroup
			for _, q := range []*sender.Queue{q1, q2, q1, q2} {
				wg.Go(func() {
					n, err := q.Drain(ctx)
					if err != nil {
						t.Error(err)
					}
					sent.Add(int32(n))
				})
			}
			wg.Wait()
			if sent.Load() != 30 || len(box.To("many@example.com")) != 30 {
				t.Fatalf("sent %d, delivered %d; want 30 each", sent.Load(), len(box.To("many@example.com")))
			}
		})
		t.Run("no-sender-for-channel", func(t *testing.T) {
			q := sender.NewQueue(g, keys(t), nil)
			if err := q.Enqueue(ctx, msg("x@example.com")); !errors.Is(err, sender.ErrNoSender) {
				t.Fatalf("err = %v", err)
			}
			if q.Available(sender.Email) {
				t.Fatal("email available without a sender")
			}
		})
		t.Run("enqueue-never-waits-for-the-sender", func(t *testing.T) {
			// The sender blocks until released: Enqueue returning while it
			// is blocked proves sends are not inline with the request.
			gate := &gateSender{release: make(chan struct{}), sent: make(chan string, 1)}
			q := sender.NewQueue(g, keys(t), []sender.Sender{gate}, sender.WithPoll(50*time.Millisecond))
			runCtx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { q.Run(runCtx); close(done) }()
			defer func() { cancel(); <-done }()
			if err := q.Enqueue(ctx, msg("slow@example.com")); err != nil {
				t.Fatal(err)
			}
			select {
			case to := <-gate.sent:
				t.Fatalf("message to %s sent before the gate opened", to)
			default:
			}
			close(gate.release)
			select {
			case to := <-gate.sent:
				if to != "slow@example.com" {
					t.Fatalf("sent to %s", to)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("dispatcher never sent")
			}
		})
	})
}

func TestFailureTextHasNoRecipient(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		box := outbox.New()
		q := sender.NewQueue(g, keys(t), []sender.Sender{box})
		box.Fail(errors.New("550 5.1.1 <secret.person@example.com>: no such user; sms to +1 415 555 0142 failed"))
		q.Enqueue(t.Context(), msg("secret.person@example.com"))
		q.Drain(t.Context())
		var last string
		g.Table("sspr_outbox").Select("last_error").Row().Scan(&last)
		if last == "" || strings.Contains(last, "secret.person") || strings.Contains(last, "555") {
			t.Fatalf("last_error = %q", last)
		}
	})
}

type gateSender struct {
	release chan struct{}
	sent    chan string
}

func (g *gateSender) Channel() sender.Channel { return sender.Email }
func (g *gateSender) Send(ctx context.Context, m sender.Message) error {
	select {
	case <-g.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.sent <- m.To
	return nil
}

// A decoy's message costs a real one's write but is never delivered, keeps
// no body, and leaves with the sent rows.
func TestEnqueueDecoy(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		box := outbox.New()
		clk := clocktest.At(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
		q := sender.NewQueue(g, keys(t), []sender.Sender{box}, sender.WithQueueClock(clk.Now))
		if err := q.EnqueueDecoy(ctx, msg("decoy@invalid")); err != nil {
			t.Fatal(err)
		}
		if n, err := q.Pending(ctx); err != nil || n != 0 {
			t.Fatalf("pending %d, %v", n, err)
		}
		if n, err := q.Drain(ctx); err != nil || n != 0 || len(box.Messages()) != 0 {
			t.Fatalf("drain delivered %d (%v), outbox %d", n, err, len(box.Messages()))
		}
		var rows, bodies int64
		g.Table("sspr_outbox").Count(&rows)
		g.Table("sspr_outbox").Where("body IS NOT NULL").Count(&bodies)
		if rows != 1 || bodies != 0 {
			t.Fatalf("%d rows, %d with a body", rows, bodies)
		}
		clk.Advance(time.Hour)
		if err := q.Cleanup(ctx, clk.Now()); err != nil {
			t.Fatal(err)
		}
		if g.Table("sspr_outbox").Count(&rows); rows != 0 {
			t.Fatalf("%d rows after cleanup", rows)
		}
	})
}
