package opstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/account"
)

var _ account.Revoker = (*Storage)(nil)

// RevokeUser ends everything the OP issued to userID, inside the caller's
// transaction (account.Revoker): unredeemed codes die,
// the user's completed authorization requests (and pending ones whose
// id_token_hint names them) are deleted so no callback can mint a code
// from them, and every refresh family and access token is revoked. The
// request a finishing recovery continues (keep.AuthRequest) stays.
func (s *Storage) RevokeUser(ctx context.Context, tx *gorm.DB, userID string, before time.Time, keep account.Keep) error {
	return revokeUser(ctx, tx, userID, before, keep, s.clock())
}

// NewRevoker is Storage.RevokeUser without a Storage, for the admin
// commands, which sign nothing and may run without LATCHKEY_SECRET. now
// may be nil.
func NewRevoker(now func() time.Time) account.Revoker {
	if now == nil {
		now = time.Now
	}
	return account.RevokerFunc(func(ctx context.Context, tx *gorm.DB, userID string, before time.Time, keep account.Keep) error {
		return revokeUser(ctx, tx, userID, before, keep, now().UTC())
	})
}

func revokeUser(ctx context.Context, tx *gorm.DB, userID string, _ time.Time, keep account.Keep, now time.Time) error {
	if userID == "" {
		return errors.New("opstore: revoke user: empty user id")
	}
	tx = tx.WithContext(ctx)
	requests := func() *gorm.DB {
		// Every request of the user, whatever its age: a cut-off taken on
		// one instance's clock would spare requests stamped by a clock
		// running ahead on another.
		q := tx.Model(&authRequestRow{}).Select("id").
			Where("user_id = ? OR hint_subject = ?", userID, userID)
		if keep.AuthRequest != "" {
			q = q.Where("id <> ?", keep.AuthRequest)
		}
		return q
	}
	// Codes first: once their requests are gone nothing names them. An
	// expired code is refused like an unknown one, and stays for replay
	// detection until cleanup.
	if err := tx.Model(&authCodeRow{}).Where("used_at IS NULL AND auth_request_id IN (?)", requests()).
		Update("expires_at", now).Error; err != nil {
		return fmt.Errorf("opstore: revoke user codes: %w", err)
	}
	var ids []string
	if err := requests().Pluck("id", &ids).Error; err != nil {
		return fmt.Errorf("opstore: revoke user requests: %w", err)
	}
	if len(ids) > 0 {
		if err := tx.Where("id IN ?", ids).Delete(&authRequestRow{}).Error; err != nil {
			return fmt.Errorf("opstore: revoke user requests: %w", err)
		}
	}
	// Tokens of every age: none may have been made with the old state.
	if err := tx.Model(&refreshTokenRow{}).Where("user_id = ? AND revoked_at IS NULL", userID).
		Update("revoked_at", now).Error; err != nil {
		return fmt.Errorf("opstore: revoke user refresh tokens: %w", err)
	}
	if err := tx.Model(&accessTokenRow{}).Where("subject = ? AND revoked_at IS NULL", userID).
		Update("revoked_at", now).Error; err != nil {
		return fmt.Errorf("opstore: revoke user access tokens: %w", err)
	}
	return nil
}

// Sessions tells the storage whether the browser session behind a grant
// is still live (neither revoked nor expired); *session.Store implements
// it. Without one, only the password-change check applies.
type Sessions interface {
	Live(ctx context.Context, id string) (bool, error)
}

// WithSessions lets the storage refuse codes whose session was revoked.
func WithSessions(ss Sessions) Option { return func(s *Storage) { s.sessions = ss } }

// errGrantRevoked: the sign-in behind a request was revoked, or happened
// before the user's password last changed.
var errGrantRevoked = errors.New("opstore: the sign-in behind this grant was revoked")

// grantLive refuses a grant whose user is gone or disabled, whose sign-in
// predates the user's last sign-out everywhere (a password change that
// signed out: user.SignInCutoff), or whose browser session was
// revoked since. It backs the revocation's transaction: a code saved or a
// token made while a reset commits still meets this check at its next
// step. errUserInactive and errGrantRevoked are refusals; anything else is
// a fault.
func (s *Storage) grantLive(ctx context.Context, userID, sessionID string, authTime time.Time) error {
	u, err := s.user(ctx, userID)
	if err != nil {
		return err
	}
	if !authTime.IsZero() && authTime.UTC().Before(u.SignInCutoff().UTC().Truncate(time.Microsecond)) {
		return errGrantRevoked
	}
	if s.sessions == nil || sessionID == "" {
		return nil
	}
	live, err := s.sessions.Live(ctx, sessionID)
	if err != nil {
		return fmt.Errorf("opstore: session: %w", err)
	}
	if !live {
		return errGrantRevoked
	}
	return nil
}

// refused reports whether err is one of grantLive's refusals.
func refused(err error) bool {
	return errors.Is(err, errGrantRevoked) || errors.Is(err, errUserInactive)
}

func authTimeOf(row authRequestRow) time.Time {
	if row.AuthTime == nil {
		return time.Time{}
	}
	return *row.AuthTime
}

// requestLive is SaveAuthCode's check: a completed request whose sign-in
// was revoked gets no code (the library answers the callback with an
// error page or an error at the client, never a code).
func (s *Storage) requestLive(ctx context.Context, id string) error {
	var row authRequestRow
	err := s.db(ctx).Where("id = ? AND done = ?", id, true).Take(&row).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return nil // the INSERT … SELECT refuses it as it always did
	case err != nil:
		return fmt.Errorf("opstore: save code: %w", err)
	}
	switch err := s.grantLive(ctx, row.UserID, row.SessionID, authTimeOf(row)); {
	case refused(err):
		return oidc.ErrAccessDenied().WithDescription("the sign-in was revoked; start again")
	case err != nil:
		return fmt.Errorf("opstore: save code: %w", err)
	}
	return nil
}
