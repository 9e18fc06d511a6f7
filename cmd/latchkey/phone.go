package main

import (
	"fmt"

	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
)

type phoneCmd struct {
	Breaker phoneBreakerCmd `cmd:"" help:"Show the phone circuit breaker; --reset closes it after an SMS-pumping attack was dealt with."`
}

type phoneBreakerCmd struct {
	Reset bool `help:"Close the breaker and forget this hour's send budget."`
}

// Run reads and resets the breaker in the database the servers share, so
// one command reopens phone codes on every instance.
func (c *phoneBreakerCmd) Run(a *app) error {
	db, err := a.database()
	if err != nil {
		return err
	}
	g := phone.NewGuard(ratelimit.New(db), *phoneLimits(a.cfg.Phone()), a.cfg.DefaultRegion)
	open, err := g.BreakerOpen(a.ctx)
	if err != nil {
		return err
	}
	if c.Reset {
		if err := g.ResetBreaker(a.ctx); err != nil {
			return err
		}
		a.audit("admin.phone.breaker.reset", "", "ok", fmt.Sprintf("was_open=%t", open))
		fmt.Fprintln(a.stdout, "phone circuit breaker closed; phone codes are sent again")
		return nil
	}
	if open {
		fmt.Fprintf(a.stdout, "open: the hourly budget of %d phone codes was reached; codes are refused until it closes (latchkey phone breaker --reset)\n",
			a.cfg.PhoneLimitGlobalHour)
		return nil
	}
	fmt.Fprintln(a.stdout, "closed: phone codes are sent")
	return nil
}
