package phone

import (
	"context"
	"errors"
	"log/slog"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// Setup is a deployment's phone configuration, as cmd builds it.
type Setup struct {
	// SMS and Voice deliver: twilio.New(cfg).SMS() and .Voice(), or the
	// dev outbox's senders. Nil Voice leaves out the alternate and office
	// phones; nil SMS makes the mobile phone call only.
	SMS, Voice sender.Sender
	// DefaultRegion is LATCHKEY_DEFAULT_REGION.
	DefaultRegion string
	// Brand and Domain: see Deps.
	Brand, Domain string
	// Limits are the toll-fraud limits (nil: DefaultLimits).
	Limits *Limits
	// Countries returns the policy's allowlist (nil: DefaultRegion only).
	Countries func(context.Context) ([]string, error)
	Audit     *audit.Log
	Log       *slog.Logger
}

// Methods builds the guard and the phone methods that s can serve, all
// sharing the guard so their sends count together: mobile (when any
// sender exists), alternate and office phone (when calls can be made).
func Methods(codes *method.Codes, keys *secret.Keyring, limiter *ratelimit.Limiter, s Setup) ([]method.Method, *Guard, error) {
	if s.SMS == nil && s.Voice == nil {
		return nil, nil, errors.New("phone: no SMS or voice sender")
	}
	limits := DefaultLimits
	if s.Limits != nil {
		limits = *s.Limits
	}
	opts := []GuardOption{WithAudit(s.Audit)}
	if s.Audit == nil {
		opts = nil
	}
	if s.Countries != nil {
		opts = append(opts, WithCountries(s.Countries))
	}
	if s.Log != nil {
		opts = append(opts, WithGuardLogger(s.Log))
	}
	g := NewGuard(limiter, limits, s.DefaultRegion, opts...)
	names := []method.Name{method.Mobile}
	if s.Voice != nil {
		names = append(names, method.AlternatePhone, method.OfficePhone)
	}
	var out []method.Method
	for _, n := range names {
		m, err := New(n, Deps{Codes: codes, Keys: keys, Guard: g, SMS: s.SMS, Voice: s.Voice,
			DefaultRegion: s.DefaultRegion, Brand: s.Brand, Domain: s.Domain, Log: s.Log})
		if err != nil {
			return nil, nil, err
		}
		out = append(out, m)
	}
	return out, g, nil
}
