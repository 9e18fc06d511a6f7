package user

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// lockTarget is the row that holds one login's lockout state: the user's
// own row, or, for a name no account has, its row of login_lockouts. Both
// tables have the same lockout columns, so one set of statements serves
// both and an unknown name costs exactly the queries a real one does.
type lockTarget struct {
	table, col, key string
	known           bool
}

func userTarget(id string) lockTarget {
	return lockTarget{table: "users", col: "id", key: id, known: true}
}

// nameTarget keys an unknown login by its normalised form, so "Bob" and
// "bob" share a count as they would share an account. The key is a MAC
// under the keyring when there is one: the table then holds no names.
func (s *Store) nameTarget(login string) lockTarget {
	k := login
	if len(login) <= maxLoginInput && utf8.ValidString(login) {
		k = Normalize(login)
	}
	var sum []byte
	if s.keys != nil {
		sum = s.keys.MAC("lockout-name", k)
	} else {
		h := sha256.Sum256([]byte(k))
		sum = h[:]
	}
	return lockTarget{table: "login_lockouts", col: "key_hash", key: hex.EncodeToString(sum)}
}

func (t lockTarget) q(db *gorm.DB) *gorm.DB { return db.Table(t.table).Where(t.col+" = ?", t.key) }

// lockState is the lockout columns of a target.
type lockState struct {
	FailedLogins     int
	Lockouts         int
	LockedUntil      *time.Time
	BadPasswordMarks string
	UpdatedAt        time.Time // the last reservation or count
}

// inFlightFor is how long reservations may wait for their requests to
// confirm or give them back: far longer than a hash and its queue. Older
// ones belong to requests that died in between (a crash, a write that
// failed) and are judged as the failures they were reserved as.
const inFlightFor = time.Minute

func (st lockState) locked(now time.Time) bool {
	return st.LockedUntil != nil && now.Before(*st.LockedUntil)
}

func (s *Store) state(ctx context.Context, t lockTarget) (lockState, error) {
	var st lockState
	err := t.q(s.db(ctx)).Select("failed_logins", "lockouts", "locked_until", "bad_password_marks", "updated_at").Take(&st).Error
	return st, notFound(err)
}

// reserve counts one failure for t before its password is checked (the
// success path gives it back by resetting the counters), with one
// conditional statement: only while the count is below the threshold and
// t is not locked. So however many requests race, on however many
// instances, at most the threshold's worth of passwords are ever evaluated
// before the lock; the rest are answered *LockedError with no hash.
// It returns the state read just after the reservation.
func (s *Store) reserve(ctx context.Context, t lockTarget, now time.Time) (lockState, error) {
	g := s.db(ctx)
	var res *gorm.DB
	// One statement, but on a Galera cluster a sign-in elsewhere counting
	// on the same row can fail it at commit: run it again then.
	err := db.RetryStmt(ctx, g, "user.reserve", func(g *gorm.DB) error { res = s.reserveStmt(g, t, now); return res.Error })
	if err != nil {
		return lockState{}, wrap("reserve attempt", err)
	}
	st, err := s.state(ctx, t)
	if errors.Is(err, ErrNotFound) {
		return st, ErrBadCredentials // the account was deleted meanwhile
	}
	if err != nil {
		return st, wrap("reserve attempt", err)
	}
	if res.RowsAffected > 0 {
		return st, nil
	}
	if st.locked(now) {
		return st, &LockedError{Until: st.LockedUntil.UTC()}
	}
	// Every attempt the threshold allows is already reserved by requests
	// still checking their passwords. Refuse this one without a hash, but
	// do not lock: those requests may all be right (a user's many tabs, a
	// script signing in in parallel), and if they are wrong the one that
	// reaches the threshold locks. The count of evaluated passwords stays
	// bounded either way. Reservations nobody came back for lock, as
	// before: otherwise requests that died could hold the account "busy"
	// for ever, where a lock expires.
	if now.Sub(st.UpdatedAt) > inFlightFor {
		return st, s.lock(ctx, t, st, now, &LockedError{Until: now.Add(s.lockout.duration(st.Lockouts))})
	}
	return st, ErrInFlight
}

// reserveStmt is reserve's conditional statement for t.
func (s *Store) reserveStmt(g *gorm.DB, t lockTarget, now time.Time) *gorm.DB {
	switch {
	case t.known:
		return t.q(g).Where("failed_logins < ? AND (locked_until IS NULL OR locked_until <= ?)", s.lockout.Threshold, now).
			Updates(map[string]any{"failed_logins": gorm.Expr("failed_logins + 1"), "updated_at": now})
	case g.Dialector.Name() == "mysql":
		// No WHERE on ON DUPLICATE KEY UPDATE: each column takes its new
		// value only under the condition; updated_at first, because later
		// assignments see the values earlier ones wrote. Rows affected is
		// 1 (inserted), 2 (counted) or 0 (refused).
		const cond = "failed_logins < ? AND (locked_until IS NULL OR locked_until <= ?)"
		return g.Exec("INSERT INTO login_lockouts (key_hash, failed_logins, lockouts, locked_until, bad_password_marks, updated_at) "+
			"VALUES (?, 1, 0, NULL, '', ?) ON DUPLICATE KEY UPDATE "+
			"updated_at = IF("+cond+", VALUES(updated_at), updated_at), "+
			"failed_logins = IF("+cond+", failed_logins + 1, failed_logins)",
			t.key, now, s.lockout.Threshold, now, s.lockout.Threshold, now)
	default:
		return g.Exec("INSERT INTO login_lockouts (key_hash, failed_logins, lockouts, locked_until, bad_password_marks, updated_at) "+
			"VALUES (?, 1, 0, NULL, '', ?) ON CONFLICT (key_hash) DO UPDATE SET "+
			"failed_logins = login_lockouts.failed_logins + 1, updated_at = excluded.updated_at "+
			"WHERE login_lockouts.failed_logins < ? AND (login_lockouts.locked_until IS NULL OR login_lockouts.locked_until <= ?)",
			t.key, now, s.lockout.Threshold, now)
	}
}

// refund gives back a reservation that did not end as a counted failure
// (a repeated wrong password, a disabled account, a busy hasher). It never
// takes the count below zero; a failure to write is only logged, since it
// can only make the lockout stricter.
func (s *Store) refund(ctx context.Context, t lockTarget) {
	// A client that hung up must still give its reservation back.
	ctx = context.WithoutCancel(ctx)
	err := db.RetryStmt(ctx, s.db(ctx), "user.refund", func(g *gorm.DB) error {
		return t.q(g).Where("failed_logins > 0").Update("failed_logins", gorm.Expr("failed_logins - 1")).Error
	})
	if err != nil {
		slog.WarnContext(ctx, "user: give back a sign-in reservation", "err", err)
	}
}

// markFor is the fingerprint of a wrong password for t ("" without a
// keyring). Real accounts keep the per-user marks they always had.
func (s *Store) markFor(t lockTarget, pw string) string { return s.mark(t.key, pw) }

func (s *Store) isRepeat(t lockTarget, st lockState, pw string) bool {
	m := s.markFor(t, pw)
	return m != "" && slices.Contains(strings.Fields(st.BadPasswordMarks), m)
}

// CleanupLockouts deletes the lockout rows of unknown names that are not
// locked and saw no attempt since before. Real accounts keep their counts
// on their own rows; for names nobody has, the table would otherwise grow
// with every name anyone ever typed.
func (s *Store) CleanupLockouts(ctx context.Context, before time.Time) (int64, error) {
	res := s.db(ctx).Table("login_lockouts").
		Where("updated_at < ? AND (locked_until IS NULL OR locked_until < ?)", before, s.now()).
		Delete(&struct{}{})
	if res.Error != nil {
		return 0, wrap("cleanup lockouts", res.Error)
	}
	return res.RowsAffected, nil
}
