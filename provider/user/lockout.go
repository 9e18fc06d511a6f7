package user

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/password"
)

// Lockout is the smart-lockout rule, modelled on Microsoft Entra's: after
// Threshold counted wrong passwords the account is locked for Base; each
// further lockout doubles the time, up to Max. The count and the doubling
// restart after a successful sign-in or an unlock.
type Lockout struct {
	Threshold int
	Base      time.Duration
	Max       time.Duration
}

// DefaultLockout: 10 wrong passwords, then 1 min, 2, 4, ... capped at 1 h.
// The cap keeps a determined guesser at about 10 guesses an hour
// (~240 a day) while a user whose account is being attacked is never
// locked out for more than an hour, and can unlock at once through SSPR.
var DefaultLockout = Lockout{Threshold: 10, Base: time.Minute, Max: time.Hour}

func (l Lockout) withDefaults() Lockout {
	if l.Threshold <= 0 {
		l.Threshold = DefaultLockout.Threshold
	}
	if l.Base <= 0 {
		l.Base = DefaultLockout.Base
	}
	if l.Max <= 0 {
		l.Max = DefaultLockout.Max
	}
	if l.Max < l.Base {
		l.Max = l.Base
	}
	return l
}

// duration of the lockout that follows `previous` earlier lockouts.
func (l Lockout) duration(previous int) time.Duration {
	d := l.Base
	for i := 0; i < previous && d < l.Max; i++ {
		d *= 2
	}
	return min(d, l.Max)
}

// Remembered wrong passwords: Entra does not count a repeat of one of the
// last few wrong passwords, so a user retyping the same old password, or a
// phone retrying it in the background, does not lock the account.
//
// Trade-off: the marks are HMAC-SHA256 under LATCHKEY_SECRET truncated to
// 32 bits. Without the key they reveal nothing; with key and database, an
// attacker could test guesses of the user's wrong passwords (often typos
// of the right one) offline, so we keep as few bits as make accidents
// negligible: a new wrong password is wrongly taken for a repeat with
// probability 3/2^32, which at most spares one guess from being counted.
// Marks are cleared by a success, an unlock and a password change.
const (
	rememberedBad = 3
	markBytes     = 4
)

func (s *Store) mark(userID, pw string) string {
	if s.keys == nil {
		return ""
	}
	return hex.EncodeToString(s.keys.MAC("badpw", userID, norm.NFKC.String(pw))[:markBytes])
}

// Authenticate checks a password sign-in by username or email.
//
//   - Unknown login: a fake Argon2id verify of the same cost, then
//     ErrBadCredentials, so timing does not tell whether the account exists.
//   - Locked account: *LockedError at once, without checking the password.
//     Checking it would turn the lockout into an oracle (a guesser would
//     still learn when a guess is right) and would let an attack keep
//     burning Argon2id CPU on a locked account.
//   - Wrong password: ErrBadCredentials, counted (unless it repeats one of
//     the last three wrong ones); reaching the threshold locks the account
//     and returns *LockedError.
//   - Right password on a disabled account: ErrDisabled. A wrong one gets
//     ErrBadCredentials as usual, so a guesser cannot tell disabled accounts.
//   - Success: counters reset; a bcrypt or outdated Argon2id hash is
//     replaced by a current one.
//
// Other errors are infrastructure failures.
func (s *Store) Authenticate(ctx context.Context, login, pw string) (*User, error) {
	u, err := s.byLogin(ctx, login)
	if errors.Is(err, ErrNotFound) {
		s.hasher.Fake(ctx, pw)
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, wrap("authenticate", err)
	}
	now := s.now()
	if u.Locked(now) {
		return nil, &LockedError{Until: u.LockedUntil.UTC()}
	}
	ok, rehash, err := s.verify(ctx, u, pw)
	if err != nil {
		return nil, wrap("authenticate", err)
	}
	if !ok {
		return nil, s.failed(ctx, u, pw, now)
	}
	if u.Disabled {
		return nil, ErrDisabled
	}
	if err := s.succeeded(ctx, u); err != nil {
		return nil, err
	}
	if rehash {
		s.upgrade(ctx, u, pw)
	}
	return s.withGroups(ctx, u)
}

// verify compares pw with the stored hash. An account without a usable
// hash costs a fake verify and never matches; an unreadable stored hash is
// logged for the operator, not reported to the user.
func (s *Store) verify(ctx context.Context, u *User, pw string) (ok, rehash bool, err error) {
	if u.PasswordHash == "" {
		s.hasher.Fake(ctx, pw)
		return false, false, nil
	}
	ok, rehash, err = s.hasher.Verify(ctx, u.PasswordHash, pw)
	if errors.Is(err, password.ErrUnknownHash) {
		slog.WarnContext(ctx, "user: stored password hash unreadable", "user_id", u.ID)
		s.hasher.Fake(ctx, pw)
		return false, false, nil
	}
	return ok, rehash, err
}

// failed counts a wrong password and locks the account at the threshold.
// The count is a single atomic UPDATE ... SET failed_logins =
// failed_logins + 1, so concurrent wrong passwords are all counted; the
// lock is a conditional UPDATE that only one of them wins.
func (s *Store) failed(ctx context.Context, u *User, pw string, now time.Time) error {
	marks := strings.Fields(u.BadPasswordMarks)
	m := s.mark(u.ID, pw)
	if m != "" && slices.Contains(marks, m) {
		return ErrBadCredentials
	}
	cols := map[string]any{"failed_logins": gorm.Expr("failed_logins + 1"), "updated_at": now}
	if m != "" {
		// Read-modify-write of the marks: two concurrent wrong passwords may
		// keep only one mark. That only ever makes a later repeat count
		// again, never lets anything go uncounted.
		marks = append(marks, m)
		cols["bad_password_marks"] = strings.Join(marks[max(0, len(marks)-rememberedBad):], " ")
	}
	db := s.db(ctx)
	if err := db.Model(&User{}).Where("id = ?", u.ID).Updates(cols).Error; err != nil {
		return wrap("count failure", err)
	}
	var cur User
	if err := db.Select("failed_logins", "lockouts", "locked_until").Where("id = ?", u.ID).Take(&cur).Error; err != nil {
		return wrap("count failure", notFound(err))
	}
	if cur.FailedLogins < s.lockout.Threshold {
		return ErrBadCredentials
	}
	until := now.Add(s.lockout.duration(cur.Lockouts))
	res := db.Model(&User{}).
		Where("id = ? AND failed_logins >= ? AND lockouts = ?", u.ID, s.lockout.Threshold, cur.Lockouts).
		Updates(map[string]any{
			"failed_logins": 0,
			"lockouts":      gorm.Expr("lockouts + 1"),
			"locked_until":  until,
			"updated_at":    now,
		})
	if res.Error != nil {
		return wrap("lock", res.Error)
	}
	if res.RowsAffected == 1 {
		return &LockedError{Until: until, Triggered: true}
	}
	// Another request locked it first.
	if err := db.Select("locked_until").Where("id = ?", u.ID).Take(&cur).Error; err != nil {
		return wrap("lock", notFound(err))
	}
	if cur.Locked(now) {
		return &LockedError{Until: cur.LockedUntil.UTC()}
	}
	return ErrBadCredentials
}

// succeeded resets the lockout state after a correct password.
func (s *Store) succeeded(ctx context.Context, u *User) error {
	if u.FailedLogins == 0 && u.Lockouts == 0 && u.LockedUntil == nil && u.BadPasswordMarks == "" {
		return nil // the common case costs no write
	}
	if err := s.clearLockout(ctx, "reset failures", u.ID); err != nil {
		return err
	}
	u.FailedLogins, u.Lockouts, u.LockedUntil, u.BadPasswordMarks = 0, 0, nil, ""
	return nil
}

func (s *Store) clearLockout(ctx context.Context, op, id string) error {
	return s.update(ctx, op, id, map[string]any{
		"failed_logins": 0, "lockouts": 0, "locked_until": nil, "bad_password_marks": "",
	})
}

// upgrade replaces an outdated hash after a successful sign-in. It only
// overwrites the hash it verified, so a concurrent password change wins.
// A failure is logged: the user is signed in either way and the upgrade is
// retried next time.
func (s *Store) upgrade(ctx context.Context, u *User, pw string) {
	h, err := s.hasher.Hash(ctx, pw)
	if err == nil {
		err = s.db(ctx).Model(&User{}).Where("id = ? AND password_hash = ?", u.ID, u.PasswordHash).
			Update("password_hash", h).Error
	}
	if err != nil {
		slog.WarnContext(ctx, "user: password hash upgrade failed", "user_id", u.ID, "err", err)
		return
	}
	u.PasswordHash = h
}

// CheckPassword reports whether pw is the user's current password, with no
// lockout side effects (for "the new password equals the current one").
func (s *Store) CheckPassword(ctx context.Context, id, pw string) (bool, error) {
	u, err := s.ByID(ctx, id)
	if err != nil {
		return false, wrap("check password", err)
	}
	ok, _, err := s.verify(ctx, u, pw)
	if err != nil {
		return false, wrap("check password", err)
	}
	return ok, nil
}

// SetPassword hashes pw and makes it the user's password. It does not
// apply the password policy (the caller knows the context words) and does
// not unlock the account (call Unlock for that).
func (s *Store) SetPassword(ctx context.Context, id, pw string) error {
	h, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return wrap("set password", err)
	}
	return s.SetPasswordHash(ctx, id, h)
}

// SetPasswordHash stores an already computed hash (from Hasher().Hash, or
// an imported Argon2id/bcrypt hash), so callers can hash before opening a
// transaction.
func (s *Store) SetPasswordHash(ctx context.Context, id, hash string) error {
	if !password.Known(hash) {
		return wrap("set password", password.ErrUnknownHash)
	}
	return s.update(ctx, "set password", id, map[string]any{
		"password_hash": hash, "password_changed_at": s.now(), "bad_password_marks": "",
	})
}

// Lock locks the account until the given time (an administrator, or "this
// wasn't me"). It does not count as a lockout for the doubling.
func (s *Store) Lock(ctx context.Context, id string, until time.Time) error {
	if until.IsZero() {
		return wrap("lock", fmt.Errorf("%w: lock needs an end time", ErrInvalid))
	}
	return s.update(ctx, "lock", id, map[string]any{"locked_until": until.UTC()})
}

// Unlock ends a lockout and clears the failure count and the doubling.
// It does not re-enable a disabled account.
func (s *Store) Unlock(ctx context.Context, id string) error {
	return s.clearLockout(ctx, "unlock", id)
}
