package main

import (
	"context"

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

func (t loginThrottle) Blocked(ctx context.Context, ip string) (bool, error) {
	n, err := t.l.Count(ctx, scopeLoginIP, ip, t.rate.Window)
	return n >= t.rate.N, err
}

func (t loginThrottle) Failed(ctx context.Context, ip string) error {
	_, _, err := t.l.Allow(ctx, scopeLoginIP, ip, t.rate.N, t.rate.Window)
	return err
}
