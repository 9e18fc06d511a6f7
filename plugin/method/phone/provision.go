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
	uses := Calls
	if m.name == method.Mobile {
		uses = Texts
	}
	allowed, err := m.d.Guard.Allowed(ctx)
	if err != nil {
		return method.Enrollment{}, err
	}
	n, err := Parse(in[FieldPhone], in[FieldCountry], m.d.DefaultRegion, uses, allowed)
	if err != nil {
		return method.Enrollment{}, err
	}
	var ext string
	if m.name == method.OfficePhone {
		if ext, err = ParseExtension(in[FieldExtension]); err != nil {
			return method.Enrollment{}, err
		}
	} else if in[FieldExtension] != "" {
		return method.Enrollment{}, method.Invalid(FieldExtension, "Only an office phone can have an extension.")
	}
	id := rand.Text()
	return method.Enrollment{
		ID: id, UserID: userID, Method: m.name, Label: n.Masked(), DestinationKey: m.DestinationKey(n.E164),
		Data: m.seal(stored{E164: n.E164, Extension: ext}, id),
	}, nil
}
