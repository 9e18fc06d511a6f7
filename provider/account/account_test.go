package account_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/schema"
	"github.com/latchkeyid/latchkey/provider/session"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/user/usertest"
)

const oldPW, newPW = "correct horse battery staple", "violet kettle drums at noon"

// recorder is a revoker that remembers its calls, or fails.
type recorder struct {
	calls []account.Keep
	fail  error
}

func (r *recorder) RevokeUser(_ context.Context, _ *gorm.DB, _ string, _ time.Time, keep account.Keep) error {
	r.calls = append(r.calls, keep)
	return r.fail
}

type fixture struct {
	g        *gorm.DB
	users    *user.Store
	sessions *session.Store
	u        *user.User
	token    string // the user's browser session
	hash     string // a hash of newPW
}

func setup(t *testing.T, g *gorm.DB, name string) *fixture {
	t.Helper()
	f := &fixture{g: g, users: usertest.Store(g), sessions: session.NewStore(g)}
	f.u = usertest.Create(t, f.users, name, oldPW)
	if err := f.users.Lock(t.Context(), f.u.ID, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var err error
	if _, f.token, err = f.sessions.Create(t.Context(), nil, f.u.ID, []string{"pwd"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if f.hash, err = f.users.Hasher().Hash(t.Context(), newPW); err != nil {
		t.Fatal(err)
	}
	return f
}

// the operations, each with what it does to the account when it commits.
var ops = []struct {
	name  string
	run   func(ctx context.Context, s *account.Service, f *fixture, keep account.Keep, also account.InTx) error
	check func(t *testing.T, f *fixture, u *user.User, err error)
}{
	{"reset-password", func(ctx context.Context, s *account.Service, f *fixture, keep account.Keep, also account.InTx) error {
		return s.ResetPassword(ctx, f.u.ID, f.hash, keep, also)
	}, func(t *testing.T, f *fixture, u *user.User, err error) {
		if ok, _ := f.users.CheckPassword(t.Context(), u.ID, newPW); !ok || u.Locked(time.Now()) {
			t.Errorf("new password %v, locked %v", ok, u.Locked(time.Now()))
		}
	}},
	{"unlock", func(ctx context.Context, s *account.Service, f *fixture, keep account.Keep, also account.InTx) error {
		return s.Unlock(ctx, f.u.ID, keep, also)
	}, func(t *testing.T, f *fixture, u *user.User, err error) {
		if ok, _ := f.users.CheckPassword(t.Context(), u.ID, oldPW); !ok || u.Locked(time.Now()) {
			t.Errorf("old password %v, locked %v", ok, u.Locked(time.Now()))
		}
	}},
	{"disable", func(ctx context.Context, s *account.Service, f *fixture, _ account.Keep, also account.InTx) error {
		return s.Disable(ctx, f.u.ID, also)
	}, func(t *testing.T, _ *fixture, u *user.User, _ error) {
		if !u.Disabled {
			t.Error("not disabled")
		}
	}},
	{"delete", func(ctx context.Context, s *account.Service, f *fixture, _ account.Keep, also account.InTx) error {
		return s.Delete(ctx, f.u.ID, also)
	}, func(t *testing.T, _ *fixture, u *user.User, err error) {
		if !errors.Is(err, user.ErrNotFound) {
			t.Errorf("user still there (%v)", err)
		}
	}},
	{"revoke-all", func(ctx context.Context, s *account.Service, f *fixture, keep account.Keep, also account.InTx) error {
		return s.RevokeAll(ctx, f.u.ID, keep, also)
	}, func(t *testing.T, f *fixture, u *user.User, _ error) {
		if ok, _ := f.users.CheckPassword(t.Context(), u.ID, oldPW); !ok || !u.Locked(time.Now()) {
			t.Errorf("revoke-all changed the account: password %v, locked %v", ok, u.Locked(time.Now()))
		}
	}},
}

func sets() []db.Set { return []db.Set{schema.Set()} }

// auditRow is the caller's own work: an audit row in the transaction.
func auditRow(userID string) account.InTx {
	return func(_ context.Context, tx *gorm.DB) error {
		return audit.NewLog(tx).RecordTx(tx, audit.Event{Type: "admin.test", UserID: userID, Outcome: audit.OK})
	}
}

func audited(t *testing.T, g *gorm.DB, userID string) bool {
	t.Helper()
	evs, err := audit.NewLog(g).List(t.Context(), audit.Filter{UserID: userID, Type: "admin.test"})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs) > 0
}

// Every operation changes the account, runs the caller's work and every
// revoker (with the kept flow and request), and signs the user out.
func TestOperationsRevokeEverything(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		for _, op := range ops {
			t.Run(op.name, func(t *testing.T) {
				ctx := t.Context()
				f := setup(t, g, "ok-"+op.name)
				rec := &recorder{}
				s := account.New(g, f.users, nil, f.sessions)
				s.Register(rec)
				keep := account.Keep{Flow: "flow-1", AuthRequest: "ar-1"}
				if err := op.run(ctx, s, f, keep, auditRow(f.u.ID)); err != nil {
					t.Fatal(err)
				}
				u, err := f.users.ByID(ctx, f.u.ID)
				op.check(t, f, u, err)
				if _, err := f.sessions.Lookup(ctx, f.token); !errors.Is(err, session.ErrNotFound) {
					t.Errorf("session survived: %v", err)
				}
				if len(rec.calls) != 1 {
					t.Fatalf("revoker called %d times", len(rec.calls))
				}
				if op.name != "disable" && op.name != "delete" && rec.calls[0] != keep {
					t.Errorf("revoker got keep %+v, want %+v", rec.calls[0], keep)
				}
				if !audited(t, g, f.u.ID) {
					t.Error("the caller's work did not commit")
				}
			})
		}
	})
}

// A failure anywhere (here the last revoker) rolls back the whole change:
// the account, the caller's work, and the revocations before it.
func TestOperationsAreOneTransaction(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		for _, op := range ops {
			t.Run(op.name, func(t *testing.T) {
				ctx := t.Context()
				f := setup(t, g, "fail-"+op.name)
				boom := errors.New("injected")
				s := account.New(g, f.users, nil, f.sessions, &recorder{fail: boom})
				if err := op.run(ctx, s, f, account.Keep{}, auditRow(f.u.ID)); !errors.Is(err, boom) {
					t.Fatalf("err %v, want the injected failure", err)
				}
				u, err := f.users.ByID(ctx, f.u.ID)
				if err != nil {
					t.Fatalf("user lost: %v", err)
				}
				if ok, _ := f.users.CheckPassword(ctx, u.ID, oldPW); !ok || !u.Locked(time.Now()) || u.Disabled {
					t.Errorf("account changed: old password %v, locked %v, disabled %v", ok, u.Locked(time.Now()), u.Disabled)
				}
				if _, err := f.sessions.Lookup(ctx, f.token); err != nil {
					t.Errorf("session revoked by a rolled-back change: %v", err)
				}
				if audited(t, g, f.u.ID) {
					t.Error("the caller's work committed without the change")
				}
			})
		}
	})
}

func TestEmptyInputRefused(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		f := setup(t, g, "empty")
		s := account.New(g, f.users, nil, f.sessions)
		if err := s.RevokeAll(t.Context(), "", account.Keep{}, nil); err == nil {
			t.Error("empty user id accepted")
		}
		if err := s.ResetPassword(t.Context(), f.u.ID, "", account.Keep{}, nil); err == nil {
			t.Error("empty hash accepted")
		}
	})
}
