package main

import (
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/config"
)

// scopeLoginIP counts failed sign-ins per client IP.
const scopeLoginIP = "login-ip"

// loginThrottle is the provider's per-IP limit of failed sign-ins on the
// database counters the phone and email limits use, so every instance
// counts together (LATCHKEY_LOGIN_LIMIT_IP). Each attempt is reserved
// before its password is checked and given back when it did not fail.
func loginThrottle(l *ratelimit.Limiter, rate config.Rate) provider.LoginThrottle {
	return ratelimit.Gate{Limiter: l, Rule: ratelimit.Rule{Scope: scopeLoginIP, Limit: rate.N, Window: rate.Window}}
}
