package plugin

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/user"
)

// Accounts is how the plugin changes who may act as a user. The provider
// implements it (provider/account.Service) and runs each call in one
// transaction of its own: the account's change, the revocation of
// everything issued to the user before now (sessions, tokens,
// authorization requests and codes, and, through the Revoker the plugin
// registers, its open flows and challenges) and the plugin's own part,
// also, which gets the transaction for the plugin's tables only. The
// plugin never writes the provider's tables itself.
type Accounts interface {
	// ResetPassword sets newHash (from the user store's hasher) as the
	// password and clears the lockout.
	ResetPassword(ctx context.Context, userID, newHash string, keep account.Keep, also account.InTx) error
	// ChangePassword sets newHash for a user who proved the current
	// password and clears the lockout; with signOut it revokes everything
	// issued before except keep.Session, without it nothing.
	ChangePassword(ctx context.Context, userID, newHash string, signOut bool, keep account.Keep, also account.InTx) error
	// Unlock clears the lockout; the password stays.
	Unlock(ctx context.Context, userID string, keep account.Keep, also account.InTx) error
	// RevokeAll changes nothing else (sign out everywhere).
	RevokeAll(ctx context.Context, userID string, keep account.Keep, also account.InTx) error
	// Lock locks the password sign-in until until ("This wasn't me").
	Lock(ctx context.Context, userID string, until time.Time, also account.InTx) error
}

// Directory is what the plugin reads of the user directory
// (provider/user.Store implements it). Writes to accounts go through
// Accounts, in the provider's transactions.
type Directory interface {
	ByLogin(ctx context.Context, login string) (*user.User, error)
	ByID(ctx context.Context, id string) (*user.User, error)
	Admins(ctx context.Context) ([]user.User, error)
	InGroup(ctx context.Context, id, group string) (bool, error)
	Groups(ctx context.Context, id string) ([]string, error)
	// CheckPassword reports whether pw is id's password, counting nothing.
	CheckPassword(ctx context.Context, id, pw string) (bool, error)
	// Authenticate checks a password as sign-in does, lockout included.
	Authenticate(ctx context.Context, login, pw string) (*user.User, error)
	Hasher() *password.Hasher
}

var _ Directory = (*user.Store)(nil)

// keepFlow spares the flow that is finishing and the request it continues.
func keepFlow(f *flow.Flow) account.Keep {
	return account.Keep{Flow: f.ID, AuthRequest: f.AuthRequestID}
}

// Revoker is the plugin's part of "revoke everything issued to the user"
// (an account.Revoker): every open flow but the finishing one, the email
// and phone challenges, and the methods' own pending proofs (pushes).
// cmd registers it with the provider's account service, for the server
// and for the admin commands alike.
type Revoker struct {
	flows   *flow.Store
	codes   *method.Codes
	methods *method.Registry
}

var _ account.Revoker = (*Revoker)(nil)

// NewRevoker builds the plugin's revoker on the plugin's stores; methods
// may be nil (only flows and codes then).
func NewRevoker(g *gorm.DB, codes *method.Codes, methods *method.Registry, now func() time.Time) (*Revoker, error) {
	if g == nil || codes == nil {
		return nil, errors.New("plugin: revoker: database and codes required")
	}
	if now == nil {
		now = time.Now
	}
	return &Revoker{flows: flow.NewStore(g, flow.WithClock(now)), codes: codes, methods: methods}, nil
}

// Revoker returns the plugin's revoker, on the same stores as its pages.
func (p *Plugin) Revoker() *Revoker {
	return &Revoker{flows: p.flows, codes: p.d.Codes, methods: p.d.Methods}
}

// userRevoker is a method with pending proofs of its own (push).
type userRevoker interface {
	RevokeUser(ctx context.Context, tx *gorm.DB, userID string, before time.Time) error
}

// RevokeUser implements account.Revoker.
func (r *Revoker) RevokeUser(ctx context.Context, tx *gorm.DB, userID string, before time.Time, keep account.Keep) error {
	if err := r.flows.RevokeUser(ctx, tx, userID, keep.Flow); err != nil {
		return err
	}
	if r.codes != nil {
		if err := r.codes.InvalidateUser(tx.WithContext(ctx), userID); err != nil {
			return err
		}
	}
	if r.methods == nil {
		return nil
	}
	for _, n := range r.methods.Names() {
		m, _ := r.methods.Get(n)
		if ur, ok := m.(userRevoker); ok {
			if err := ur.RevokeUser(ctx, tx, userID, before); err != nil {
				return err
			}
		}
	}
	return nil
}
