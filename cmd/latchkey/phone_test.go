package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/provider/config"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// An SMS-pumping attack trips the breaker (a global budget of 2 here);
// `phone breaker` says so, `--reset` reopens phone codes for every
// instance sharing the database, and the reset is audited.
func TestPhoneBreakerCommand(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		c := newCLI(t, url)
		budget := func(cfg *config.Config) { cfg.PhoneLimitGlobalHour = 2 }
		mobile, _ := phoneSetup(t, c, url, budget)
		send := func(i int) error {
			_, err := mobile.Begin(t.Context(), fmt.Sprint("flow-", i), method.Ref{ID: fmt.Sprint("u", i), Username: fmt.Sprint("u", i)},
				method.Input{"phone": fmt.Sprint("+1 201 555 013", i), "channel": "sms"})
			return err
		}
		if out := c.must("", "phone", "breaker", "--phone-limit-global-hour", "2"); !strings.HasPrefix(out, "closed") {
			t.Fatalf("before: %s", out)
		}
		var err error
		for i := range 3 {
			if err = send(i); err != nil {
				break
			}
		}
		if !errors.Is(err, phone.ErrBreakerOpen) {
			t.Fatalf("third send: %v, want the breaker", err)
		}
		if out := c.must("", "phone", "breaker", "--phone-limit-global-hour", "2"); !strings.HasPrefix(out, "open") {
			t.Fatalf("after the budget: %s", out)
		}
		if out := c.must("", "phone", "breaker", "--reset"); !strings.Contains(out, "closed") {
			t.Fatalf("reset: %s", out)
		}
		if err := send(5); err != nil {
			t.Fatalf("a send after the reset: %v", err)
		}
		if out := c.must("", "audit", "--type", "admin.phone.breaker.reset"); !strings.Contains(out, "was_open=true") {
			t.Fatalf("reset not audited:\n%s", out)
		}
	})
}
