package push_test

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// Checklist 48: the number is two digits, 10 to 99, drawn afresh for each
// push (crypto/rand in newNumber): forty pushes show many values, never a
// fixed or counting sequence.
func TestNumbersAreFreshTwoDigits(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		v := newEnv(t, g)
		_, e := v.enroll(t)
		seen := map[string]int{}
		var prev string
		sequential := 0
		for i := range 40 {
			if i > 0 && i%push.PerWindow == 0 {
				v.clk.Advance(push.Window)
			}
			if i > 0 && i%push.PerDay == 0 {
				v.clk.Advance(24 * time.Hour)
			}
			n := v.challenge(t, rand.Text(), e).Prompt.Number
			if len(n) != 2 || n < "10" || n > "99" {
				t.Fatalf("number %q, want two digits 10-99", n)
			}
			if prev != "" && n > prev {
				sequential++
			}
			seen[n]++
			prev = n
		}
		// 40 draws from 90 values: fewer than 20 distinct happens with a
		// probability far below 1e-9; 39 rises in a row is a counter.
		if len(seen) < 20 || sequential == 39 {
			t.Fatalf("%d distinct numbers in 40 pushes (%v)", len(seen), seen)
		}
	})
}

// Checklist 49 with Web Push: the push over the limit is refused before
// anything reaches the push service; the browser gets exactly one message
// per accepted push.
func TestWebPushNotSentWhenRefused(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		ps := newPushService(t)
		results := make(chan int, 10)
		v := newEnv(t, g, func(c *push.Config) {
			c.WebPushClient = ps.Client()
			c.OnWebPush = func(_ string, status int, _ error) { results <- status }
		})
		dev, e := v.enroll(t)
		br := newBrowserSub(t, ps.URL+"/push/limit")
		if err := v.cli.Subscribe(ctx, dev, br.sub); err != nil {
			t.Fatal(err)
		}
		for range push.PerWindow {
			v.challenge(t, rand.Text(), e)
			select {
			case <-results:
			case <-time.After(10 * time.Second):
				t.Fatal("no web push attempt")
			}
		}
		_, err := v.m.Challenge(ctx, rand.Text(), v.user, e)
		var rl *method.RateLimitError
		if !errors.As(err, &rl) {
			t.Fatalf("4th push: %v, want a rate-limit error", err)
		}
		v.m.Wait()
		select {
		case st := <-results:
			t.Fatalf("a refused push was delivered (%d)", st)
		default:
		}
		ps.mu.Lock()
		defer ps.mu.Unlock()
		if len(ps.got) != push.PerWindow {
			t.Fatalf("push service got %d messages, want %d", len(ps.got), push.PerWindow)
		}
	})
}
