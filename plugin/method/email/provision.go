package email

import (
	"context"
	"crypto/rand"
	"errors"

	"github.com/latchkeyid/latchkey/plugin/method"
)

// Provision makes an enrollment of the address in in (field "address")
// for userID without proving it: an administrator vouches for the address
// (`latchkey method add`). The address meets Begin's checks and the
// enrollment is the one Finish would make, so Challenge and Address work
// on it. No code is issued and nothing is queued, so it needs no email
// sender and counts against no send limit; the caller saves it with
// method.Store.Add.
func (m *Method) Provision(_ context.Context, userID string, in method.Input) (method.Enrollment, error) {
	if userID == "" {
		return method.Enrollment{}, errors.New("email: provision: no user")
	}
	addr, err := ParseAddress(in[FieldAddress])
	if err != nil {
		return method.Enrollment{}, err
	}
	return m.enrollment(rand.Text(), userID, addr), nil
}
