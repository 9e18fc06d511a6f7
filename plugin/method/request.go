package method

// Additions for issue 4 (H7, phones): request facts for methods that send,
// a challenge that takes the user's choice, and revoking a challenge whose
// message could not be delivered.

import (
	"context"
	"fmt"
)

// Request is what a method may know about the HTTP request it serves: the
// client IP (per-IP send limits) and the user's preferred languages (voice
// calls speak them where supported). The flow puts it in the context with
// WithRequest; methods read it with RequestFrom.
type Request struct {
	IP             string
	UserAgent      string
	AcceptLanguage string // the Accept-Language header, as sent
	// App names the application the user is signing in to, when the flow
	// knows it (push shows it on the device); "" otherwise.
	App string
}

type requestKey struct{}

// WithRequest returns ctx carrying r.
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the Request in ctx (zero when none was set).
func RequestFrom(ctx context.Context) Request {
	r, _ := ctx.Value(requestKey{}).(Request)
	return r
}

// InputChallenger is implemented by methods whose challenge takes a choice
// the user makes each time (mobile phone: field "channel" = "sms" or
// "voice"). A flow that has such input calls ChallengeInput instead of
// Challenge; Challenge uses the method's default choice.
type InputChallenger interface {
	ChallengeInput(ctx context.Context, flowID string, u Ref, e Enrollment, in Input) (Challenge, error)
}

// Revoke kills a live challenge at once (its message could not be
// delivered), so no half-made challenge can be answered later.
func (c *Codes) Revoke(ctx context.Context, challengeID string) error {
	if err := c.g.WithContext(ctx).Model(&challengeRow{}).Where("id = ? AND used_at IS NULL", challengeID).
		Update("tries", c.maxTries).Error; err != nil {
		return fmt.Errorf("method: revoke challenge: %w", err)
	}
	return nil
}
