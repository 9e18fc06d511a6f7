package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate is a count per window, written "3/10m".
type Rate struct {
	N      int
	Window time.Duration
}

func (r Rate) String() string {
	w := r.Window.String() // "1h0m0s" reads better as "1h"
	if strings.HasSuffix(w, "m0s") {
		w = strings.TrimSuffix(w, "0s")
	}
	if strings.HasSuffix(w, "h0m") {
		w = strings.TrimSuffix(w, "0m")
	}
	return strconv.Itoa(r.N) + "/" + w
}

// ParseRate reads "COUNT/WINDOW", e.g. "3/10m" or "10/24h".
func ParseRate(s string) (Rate, error) {
	n, w, ok := strings.Cut(strings.TrimSpace(s), "/")
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || count < 1 {
		return Rate{}, fmt.Errorf("config: %q is not COUNT/WINDOW such as 3/10m", s)
	}
	d, err := time.ParseDuration(strings.TrimSpace(w))
	if err != nil || d <= 0 {
		return Rate{}, fmt.Errorf("config: %q is not COUNT/WINDOW such as 3/10m", s)
	}
	return Rate{N: count, Window: d}, nil
}

// PhoneLimits are the toll-fraud limits of the phone methods
// (LATCHKEY_PHONE_LIMIT_*), for cmd to hand to plugin/method/phone.
type PhoneLimits struct {
	Number, NumberDay, User, UserDay, IP, IPDay Rate
	DialCodeDay, GlobalHour                     int
}

// The loosest rates accepted: the security checklist's (item 52). An
// operator may make them stricter, never looser.
var loosestPhoneRates = map[string]Rate{
	"LATCHKEY_PHONE_LIMIT_NUMBER":     {3, 10 * time.Minute},
	"LATCHKEY_PHONE_LIMIT_NUMBER_DAY": {10, 24 * time.Hour},
	"LATCHKEY_PHONE_LIMIT_USER":       {5, time.Hour},
	"LATCHKEY_PHONE_LIMIT_IP":         {10, time.Hour},
	// The daily rates are not the checklist's; their defaults are the
	// loosest accepted all the same.
	"LATCHKEY_PHONE_LIMIT_USER_DAY": {15, 24 * time.Hour},
	"LATCHKEY_PHONE_LIMIT_IP_DAY":   {50, 24 * time.Hour},
}

// phoneRateVars lists the rate settings in the order problems are told.
var phoneRateVars = []string{"LATCHKEY_PHONE_LIMIT_NUMBER", "LATCHKEY_PHONE_LIMIT_NUMBER_DAY", "LATCHKEY_PHONE_LIMIT_USER",
	"LATCHKEY_PHONE_LIMIT_USER_DAY", "LATCHKEY_PHONE_LIMIT_IP", "LATCHKEY_PHONE_LIMIT_IP_DAY"}

const maxPhoneBudget = 1_000_000

func (c Config) phoneRates() map[string]string {
	return map[string]string{
		"LATCHKEY_PHONE_LIMIT_NUMBER":     c.PhoneLimitNumber,
		"LATCHKEY_PHONE_LIMIT_NUMBER_DAY": c.PhoneLimitNumberDay,
		"LATCHKEY_PHONE_LIMIT_USER":       c.PhoneLimitUser,
		"LATCHKEY_PHONE_LIMIT_IP":         c.PhoneLimitIP,
		"LATCHKEY_PHONE_LIMIT_USER_DAY":   c.PhoneLimitUserDay,
		"LATCHKEY_PHONE_LIMIT_IP_DAY":     c.PhoneLimitIPDay,
	}
}

func (c Config) checkPhoneLimits(bad func(v, format string, args ...any)) {
	rates := c.phoneRates()
	for _, v := range phoneRateVars {
		r, err := ParseRate(rates[v])
		loosest := loosestPhoneRates[v]
		switch {
		case err != nil:
			bad(v, "must be COUNT/WINDOW such as %s (%q)", loosest, rates[v])
		case r.N > loosest.N || r.Window < loosest.Window:
			bad(v, "may be stricter than %s (fewer sends or a longer window), not looser (%s)", loosest, r)
		case r.Window > 7*24*time.Hour:
			bad(v, "window must be at most a week (%s)", r.Window)
		}
	}
	if c.PhoneLimitDialCodeDay < 1 || c.PhoneLimitDialCodeDay > maxPhoneBudget {
		bad("LATCHKEY_PHONE_LIMIT_DIAL_CODE_DAY", "must be between 1 and %d (%d)", maxPhoneBudget, c.PhoneLimitDialCodeDay)
	}
	if c.PhoneLimitGlobalHour < 1 || c.PhoneLimitGlobalHour > maxPhoneBudget {
		bad("LATCHKEY_PHONE_LIMIT_GLOBAL_HOUR", "must be between 1 and %d (%d)", maxPhoneBudget, c.PhoneLimitGlobalHour)
	}
}

// Phone returns the phone limits; a rate that does not parse is zero
// (Validate reports it).
func (c Config) Phone() PhoneLimits {
	rate := func(s string) Rate { r, _ := ParseRate(s); return r }
	return PhoneLimits{
		Number: rate(c.PhoneLimitNumber), NumberDay: rate(c.PhoneLimitNumberDay),
		User: rate(c.PhoneLimitUser), UserDay: rate(c.PhoneLimitUserDay),
		IP: rate(c.PhoneLimitIP), IPDay: rate(c.PhoneLimitIPDay),
		DialCodeDay: c.PhoneLimitDialCodeDay, GlobalHour: c.PhoneLimitGlobalHour,
	}
}
