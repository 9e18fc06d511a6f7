package user

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
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
// Every attempt first reserves one counted failure on the login's lockout
// row with a single conditional UPDATE (an upsert for unknown names), and
// only then spends a hash: concurrent attempts, on any number of
// instances, can never evaluate more passwords than the threshold allows
// (check-then-act would let a burst of N parallel guesses all be checked
// while the count still read zero).
//
//   - Unknown login: its own lockout row (login_lockouts, keyed by the
//     normalised name), the same statements and a fake Argon2id verify of
//     the same cost, then ErrBadCredentials; after the same count it is
//     locked exactly like a real account, so neither the page nor the
//     timing tells whether the account exists.
//   - Locked: *LockedError at once, without checking the password.
//     Checking it would turn the lockout into an oracle and let an attack
//     keep burning Argon2id CPU on a locked account.
//   - Every remaining attempt reserved by requests in flight: ErrInFlight
//     (a password.ErrBusy) at once, nothing checked or counted, and no
//     lock: parallel right passwords must not lock their own account.
//   - Wrong password: ErrBadCredentials, counted (a repeat of one of the
//     last three wrong ones gives its reservation back); the failure that
//     reaches the threshold locks the account and returns *LockedError.
//   - Right password on a disabled account: ErrDisabled (not counted). A
//     wrong one gets ErrBadCredentials as usual.
//   - Success: counters reset; a bcrypt or outdated Argon2id hash is
//     replaced by a current one.
//
// Other errors are infrastructure failures (password.ErrBusy among them:
// the reservation is then given back, nothing was evaluated).
func (s *Store) Authenticate(ctx context.Context, login, pw string) (*User, error) {
	return s.authenticate(ctx, login, pw, "")
}

// AuthenticateAs is Authenticate for a sign-in that may only end as the
// user with ID want (the application named that user with id_token_hint).
// A login that names anyone else is refused with ErrOtherUser before any
// reservation or hash, so the page cannot be used to test another
// account's password, and that account's counters are not touched. A
// login naming want is checked, counted and locked exactly as by
// Authenticate.
func (s *Store) AuthenticateAs(ctx context.Context, login, pw, want string) (*User, error) {
	if want == "" {
		return s.Authenticate(ctx, login, pw)
	}
	return s.authenticate(ctx, login, pw, want)
}

func (s *Store) authenticate(ctx context.Context, login, pw, want string) (*User, error) {
	u, err := s.byLogin(ctx, login)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, wrap("authenticate", err)
	}
	if want != "" && (u == nil || u.ID != want) {
		return nil, ErrOtherUser
	}
	t := s.nameTarget(login)
	if u != nil {
		t = userTarget(u.ID)
	}
	now := s.now()
	st, err := s.reserve(ctx, t, now)
	if err != nil {
		return nil, err
	}
	ok, rehash, err := s.verify(ctx, u, pw)
	if err != nil {
		s.refund(ctx, t)
		return nil, wrap("authenticate", err)
	}
	if !ok && s.isRepeat(t, st, pw) {
		// A repeat of a recent wrong password (a retyped typo, a phone
		// retrying in the background) is answered but not counted.
		s.refund(ctx, t)
		return nil, ErrBadCredentials
	}
	if !ok {
		return nil, s.failed(ctx, t, st, pw, now)
	}
	if u.Disabled {
		s.refund(ctx, t)
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

// verify compares pw with the stored hash of u. No user (an unknown
// name) or no usable hash costs a fake verify and never matches; an
// unreadable stored hash is logged for the operator, not reported to the
// user. Exactly one hash is evaluated either way.
func (s *Store) verify(ctx context.Context, u *User, pw string) (ok, rehash bool, err error) {
	if u == nil || u.PasswordHash == "" {
		return false, false, s.hasher.Fake(ctx, pw)
	}
	ok, rehash, err = s.hasher.Verify(ctx, u.PasswordHash, pw)
	if errors.Is(err, password.ErrUnknownHash) {
		slog.WarnContext(ctx, "user: stored password hash unreadable", "user_id", u.ID)
		return false, false, s.hasher.Fake(ctx, pw)
	}
	return ok, rehash, err
}

// failed confirms a reserved failure: it remembers the wrong password's
// mark and locks the account when the reservation reached the threshold.
// The lock is a conditional UPDATE that only one request wins.
func (s *Store) failed(ctx context.Context, t lockTarget, st lockState, pw string, now time.Time) error {
	g := s.db(ctx)
	if m := s.markFor(t, pw); m != "" {
		// Read-modify-write of the marks: two concurrent wrong passwords may
		// keep only one mark. That only ever makes a later repeat count
		// again, never lets anything go uncounted.
		marks := append(strings.Fields(st.BadPasswordMarks), m)
		if err := db.RetryStmt(ctx, g, "user.count_failure", func(g *gorm.DB) error {
			return t.q(g).Updates(map[string]any{
				"bad_password_marks": strings.Join(marks[max(0, len(marks)-rememberedBad):], " "), "updated_at": now,
			}).Error
		}); err != nil {
			return wrap("count failure", err)
		}
	}
	if st.FailedLogins < s.lockout.Threshold {
		return ErrBadCredentials
	}
	return s.lock(ctx, t, st, now, ErrBadCredentials)
}

// lock locks t for the next lockout duration if no other request did since
// st was read. Without a winner it returns the lock another request set,
// or otherwise (the lock was already lifted again) fallback.
func (s *Store) lock(ctx context.Context, t lockTarget, st lockState, now time.Time, fallback error) error {
	g := s.db(ctx)
	until := now.Add(s.lockout.duration(st.Lockouts))
	var res *gorm.DB
	if err := db.RetryStmt(ctx, g, "user.lock", func(g *gorm.DB) error {
		res = t.q(g).Where("failed_logins >= ? AND lockouts = ?", s.lockout.Threshold, st.Lockouts).
			Updates(map[string]any{
				"failed_logins": 0,
				"lockouts":      gorm.Expr("lockouts + 1"),
				"locked_until":  until,
				"updated_at":    now,
			})
		return res.Error
	}); err != nil {
		return wrap("lock", err)
	}
	if res.RowsAffected == 1 {
		return &LockedError{Until: until, Triggered: true}
	}
	cur, err := s.state(ctx, t)
	if err != nil {
		return wrap("lock", err)
	}
	if cur.locked(now) {
		return &LockedError{Until: cur.LockedUntil.UTC()}
	}
	return fallback
}

// succeeded resets the lockout state after a correct password (always a
// write: the attempt's own reservation is on the row).
func (s *Store) succeeded(ctx context.Context, u *User) error {
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
// transaction. It clears MustChangePassword: whoever sets a password now
// chose it (SetTemporaryPasswordHash is the administrator's exception).
func (s *Store) SetPasswordHash(ctx context.Context, id, hash string) error {
	return s.setHash(ctx, "set password", id, hash, false, true)
}

// SetPasswordHashKeepSessions is SetPasswordHash for a change whose owner
// chose to stay signed in elsewhere: the sign-ins made before it keep
// yielding codes and tokens (SignInCutoff stays where it was).
func (s *Store) SetPasswordHashKeepSessions(ctx context.Context, id, hash string) error {
	return s.setHash(ctx, "set password", id, hash, false, false)
}

// SetTemporaryPasswordHash stores a password an administrator chose for
// the user, who must change it at the next sign-in.
func (s *Store) SetTemporaryPasswordHash(ctx context.Context, id, hash string) error {
	return s.setHash(ctx, "set temporary password", id, hash, true, true)
}

func (s *Store) setHash(ctx context.Context, op, id, hash string, temporary, signOut bool) error {
	if !password.Known(hash) {
		return wrap(op, password.ErrUnknownHash)
	}
	now := s.now()
	cols := map[string]any{"password_hash": hash, "password_changed_at": now, "bad_password_marks": "",
		"must_change_password": temporary}
	if signOut {
		cols["signed_out_at"] = now
	}
	if err := s.update(ctx, op, id, cols); err != nil {
		return err
	}
	// A setup link exists to set a first password; once one is set by any
	// path, an old link must not set another.
	return wrap0(op, revokeSetupLinks(s.db(ctx), id, now))
}

// ClearPassword leaves the account without a usable password: every
// password sign-in fails as a wrong one would, until a new password is set
// (an administrator's setup link, or a recovery). It signs the user out
// everywhere, but does not revoke the user's setup links: issue one after
// clearing.
func (s *Store) ClearPassword(ctx context.Context, id string) error {
	now := s.now()
	return s.update(ctx, "clear password", id, map[string]any{
		"password_hash": "", "password_changed_at": now, "signed_out_at": now,
		"bad_password_marks": "", "must_change_password": false,
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
