package main

import (
	"context"
	"time"

	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/config"
)

// loginThrottle is the provider's per-IP limit of failed sign-ins on the
// database counters the phone and email limits use, so every instance
// counts together (LATCHKEY_LOGIN_LIMIT_IP).
type loginThrottle struct {
	l    *ratelimit.Limiter
	rate config.Rate
}

const scopeLoginIP = "login-ip"

var _ provider.LoginThrottle = loginThrottle{}

// Reserve counts the attempt before its password is checked, with the
// limiter's conditional UPDATE: parallel attempts cannot all pass a check
// that reads the count before any of them has added to it.
func (t loginThrottle) Reserve(ctx context.Context, ip string) (bool, time.Duration, error) {
	return t.l.Allow(ctx, scopeLoginIP, ip, t.rate.N, t.rate.Window)
}

func (t loginThrottle) Refund(ctx context.Context, ip string) error {
	return t.l.Refund(ctx, scopeLoginIP, ip, t.rate.Window)
}
