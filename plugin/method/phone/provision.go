package phone

import (
	"context"
	"crypto/rand"
	"errors"

	"github.com/latchkeyid/latchkey/plugin/method"
)

// Provision makes an enrollment of the number in in (fields "phone" and,
// for the office phone, "extension") for userID without proving it: an
// administrator vouches for the number (`latchkey method add`). The number
// meets Begin's checks (type rules, the allowlist, the extension rules) and
// the enrollment is the one Finish would make, so Challenge and Target work
// on it. No code is issued, nothing is sent, no send limit is counted; the
// caller saves it with method.Store.Add.
func (m *Method) Provision(ctx context.Context, userID string, in method.Input) (method.Enrollment, error) {
	if userID == "" {
		return method.Enrollment{}, errors.New("phone: provision: no user")
	}
	n, ext, err := m.destination(ctx, in)
	if err != nil {
		return method.Enrollment{}, err
	}
	return m.enrollment(rand.Text(), userID, n, ext), nil
}
