package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/user"
)

// Keep is what a revocation spares: the recovery flow that is finishing
// (its own last step runs in the same transaction) and the authorization
// request it goes on to complete, or the browser session of a user who
// changed their password and stays signed in there. Empty fields spare
// nothing.
type Keep struct {
	Flow        string
	AuthRequest string
	// Session is a browser session ID. Its owner has just proved who they
	// are, so the session counts as signed in at the cut-off.
	Session string
}

// Revoker is one store that issues something on a user's behalf. It ends
// everything it issued to userID before the given time, except keep, using
// tx for its own tables only. It must not commit or roll back tx.
type Revoker interface {
	RevokeUser(ctx context.Context, tx *gorm.DB, userID string, before time.Time, keep Keep) error
}

// RevokerFunc adapts a function to Revoker.
type RevokerFunc func(ctx context.Context, tx *gorm.DB, userID string, before time.Time, keep Keep) error

// RevokeUser calls f.
func (f RevokerFunc) RevokeUser(ctx context.Context, tx *gorm.DB, userID string, before time.Time, keep Keep) error {
	return f(ctx, tx, userID, before, keep)
}

// InTx is the caller's own part of the change (finish its flow, audit,
// queue a notification), run inside the same transaction before the
// revocation. nil does nothing.
type InTx func(ctx context.Context, tx *gorm.DB) error

// Service runs the account changes. Build it with New and register every
// Revoker at composition time, before the first call.
type Service struct {
	g        *gorm.DB
	users    *user.Store
	now      func() time.Time
	revokers []Revoker
}

// New returns a service on g. now may be nil (time.Now).
func New(g *gorm.DB, users *user.Store, now func() time.Time, rs ...Revoker) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{g: g, users: users, now: now, revokers: rs}
}

// Register adds revokers. It is not safe to call while the service is in
// use: composition registers, requests only call.
func (s *Service) Register(rs ...Revoker) { s.revokers = append(s.revokers, rs...) }

// RevokeAll signs userID out of everything issued before now (sessions,
// refresh families, access tokens, authorization requests and codes, open
// recovery flows and challenges) except keep, after also, in one
// transaction.
func (s *Service) RevokeAll(ctx context.Context, userID string, keep Keep, also InTx) error {
	return s.change(ctx, "revoke", userID, keep, also, nil)
}

// ResetPassword sets newHash (a PHC string from the user store's hasher)
// as userID's password, clears the lockout and revokes everything issued
// before, in one transaction: a failure anywhere leaves the old password
// and every session as they were.
func (s *Service) ResetPassword(ctx context.Context, userID, newHash string, keep Keep, also InTx) error {
	if newHash == "" {
		return errors.New("account: reset password: empty hash")
	}
	return s.change(ctx, "reset password", userID, keep, also, func(ctx context.Context, u *user.Store) error {
		if err := u.SetPasswordHash(ctx, userID, newHash); err != nil {
			return err
		}
		return u.Unlock(ctx, userID)
	})
}

// ChangePassword sets newHash as the password of a signed-in user who
// proved the current one, and clears the lockout. With signOut it also
// revokes everything issued before except keep.Session (the browser the
// change was made in), as ResetPassword does; without it every session
// and token stays valid, the owner's choice.
func (s *Service) ChangePassword(ctx context.Context, userID, newHash string, signOut bool, keep Keep, also InTx) error {
	if newHash == "" {
		return errors.New("account: change password: empty hash")
	}
	edit := func(ctx context.Context, u *user.Store, cutoff time.Time) error {
		if err := u.SetPasswordHashKeepSessions(ctx, userID, newHash); err != nil {
			return err
		}
		if signOut {
			if err := u.SignOutAt(ctx, userID, cutoff); err != nil {
				return err
			}
		}
		return u.Unlock(ctx, userID)
	}
	if !signOut {
		return s.transact(ctx, "change password", userID, Keep{}, also, edit, false)
	}
	return s.transact(ctx, "change password", userID, keep, also, edit, true)
}

// SetTemporaryPassword is ResetPassword for a password an administrator
// chose: the user must change it at the next sign-in, before any
// application gets a code (user.User.MustChangePassword).
func (s *Service) SetTemporaryPassword(ctx context.Context, userID, newHash string, also InTx) error {
	if newHash == "" {
		return errors.New("account: set temporary password: empty hash")
	}
	return s.change(ctx, "set temporary password", userID, Keep{}, also, func(ctx context.Context, u *user.Store) error {
		if err := u.SetTemporaryPasswordHash(ctx, userID, newHash); err != nil {
			return err
		}
		return u.Unlock(ctx, userID)
	})
}

// ClearPassword removes userID's password (no password signs in until a
// new one is set, by a setup link or a recovery), clears the lockout and
// revokes everything issued before, in one transaction.
func (s *Service) ClearPassword(ctx context.Context, userID string, also InTx) error {
	return s.change(ctx, "clear password", userID, Keep{}, also, func(ctx context.Context, u *user.Store) error {
		if err := u.ClearPassword(ctx, userID); err != nil {
			return err
		}
		return u.Unlock(ctx, userID)
	})
}

// Unlock clears userID's lockout and revokes everything issued before: the
// lockout says someone was guessing, and the owner has just proved who
// they are, so whatever was signed in before does not stay.
func (s *Service) Unlock(ctx context.Context, userID string, keep Keep, also InTx) error {
	return s.change(ctx, "unlock", userID, keep, also, func(ctx context.Context, u *user.Store) error {
		return u.Unlock(ctx, userID)
	})
}

// Lock locks userID's password sign-in until until and revokes everything
// issued before ("This wasn't me": whoever else is signed in goes).
func (s *Service) Lock(ctx context.Context, userID string, until time.Time, also InTx) error {
	return s.change(ctx, "lock", userID, Keep{}, also, func(ctx context.Context, u *user.Store) error {
		return u.Lock(ctx, userID, until)
	})
}

// Disable disables userID and revokes everything issued to them.
func (s *Service) Disable(ctx context.Context, userID string, also InTx) error {
	return s.change(ctx, "disable", userID, Keep{}, also, func(ctx context.Context, u *user.Store) error {
		return u.SetDisabled(ctx, userID, true)
	})
}

// Delete revokes everything issued to userID and deletes the account.
func (s *Service) Delete(ctx context.Context, userID string, also InTx) error {
	return s.change(ctx, "delete", userID, Keep{}, also, func(ctx context.Context, u *user.Store) error {
		return u.Delete(ctx, userID)
	})
}

// change is the one transaction every operation is: the caller's work,
// the change to the account, then every revoker, all with one cut-off
// time.
func (s *Service) change(ctx context.Context, op, userID string, keep Keep, also InTx,
	edit func(context.Context, *user.Store) error) error {
	var at func(context.Context, *user.Store, time.Time) error
	if edit != nil {
		at = func(ctx context.Context, u *user.Store, _ time.Time) error { return edit(ctx, u) }
	}
	return s.transact(ctx, op, userID, keep, also, at, true)
}

// transact runs also, then edit, then (when revoke) every revoker, in one
// transaction, all with one cut-off time (whole microseconds, as both
// databases store it).
func (s *Service) transact(ctx context.Context, op, userID string, keep Keep, also InTx,
	edit func(context.Context, *user.Store, time.Time) error, revoke bool) error {
	if userID == "" {
		return fmt.Errorf("account: %s: empty user id", op)
	}
	before := s.now().UTC().Truncate(time.Microsecond)
	err := db.Transact(ctx, s.g, "account.change", func(tx *gorm.DB) error {
		if also != nil {
			if err := also(ctx, tx); err != nil {
				return err
			}
		}
		if edit != nil {
			if err := edit(ctx, s.users.WithTx(tx), before); err != nil {
				return err
			}
		}
		if !revoke {
			return nil
		}
		for _, r := range s.revokers {
			if err := r.RevokeUser(ctx, tx, userID, before, keep); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("account: %s: %w", op, err)
	}
	return nil
}
