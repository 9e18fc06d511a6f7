package proof

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pschema "github.com/latchkeyid/latchkey/provider/schema"
	"github.com/latchkeyid/latchkey/provider/secret"
)

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// fake is a method whose verifier answers from a table: "right" proves,
// "dead" ends the challenge, "pending" waits, "replay" is a used code,
// anything else is wrong. It counts what it was asked to judge.
type fake struct {
	name  method.Name
	calls atomic.Int64
}

func (m *fake) Name() method.Name { return m.name }
func (m *fake) Describe() method.Info {
	return method.Info{AddTitle: "Fake", Titles: map[string]string{"": "Fake"}, AMR: "otp"}
}
func (m *fake) Channel(method.Enrollment) method.Channel { return method.ChannelApp }
func (m *fake) Begin(context.Context, string, method.Ref, method.Input) (method.Pending, error) {
	return method.Pending{Method: m.name}, nil
}

func (m *fake) Finish(_ context.Context, _ string, u method.Ref, p method.Pending, in method.Input) (method.Enrollment, method.Result, error) {
	m.calls.Add(1)
	if in["code"] == "expired" {
		return method.Enrollment{}, method.Result{}, method.ErrExpired
	}
	res := result(in["code"])
	if !res.OK {
		return method.Enrollment{}, res, nil
	}
	return method.Enrollment{ID: "new-enrollment", UserID: u.ID, Method: m.name}, res, nil
}

func (m *fake) Challenge(_ context.Context, flowID string, _ method.Ref, e method.Enrollment) (method.Challenge, error) {
	return method.Challenge{ID: rand.Text(), EnrollmentID: e.ID, Method: m.name, FlowID: flowID}, nil
}

func (m *fake) Verify(_ context.Context, _ string, _ method.Ref, _ method.Enrollment, _ method.Challenge, in method.Input) (method.Result, error) {
	m.calls.Add(1)
	return result(in["code"]), nil
}

func result(answer string) method.Result {
	switch answer {
	case "right":
		return method.Result{OK: true}
	case "dead":
		return method.Result{Dead: true}
	case "pending":
		return method.Result{Pending: true}
	case "replay":
		return method.Result{Replay: true}
	}
	return method.Result{}
}

// resending is a fake whose challenges can be sent again (like email).
type resending struct{ fake }

func (m *resending) Resend(_ context.Context, _ string, _ method.Ref, _ method.Enrollment, c method.Challenge) (method.Challenge, error) {
	return c, nil
}

type noEnrollments struct{}

func (noEnrollments) Used(context.Context, string) error { return nil }

type reporter struct{ n atomic.Int32 }

func (r *reporter) Replayed(context.Context, *flow.Flow) error { r.n.Add(1); return nil }

type rig struct {
	g        *gorm.DB
	e        *Engine
	audit    *audit.Log
	failures *flow.Failures
}

func newRig(t *testing.T, g *gorm.DB) *rig {
	keys, err := secret.Parse(secret.Generate())
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return t0 }
	r := &rig{g: g, audit: audit.NewLog(g, audit.WithClock(now)), failures: flow.NewFailures(g, now)}
	r.e, err = New(Config{DB: g, Flows: flow.NewStore(g, flow.WithClock(now)), Failures: r.failures,
		Challenges: keys.Box("test-challenge"), Audit: r.audit, Enrollments: noEnrollments{}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// open starts a flow of purpose for subject with a challenge of m out.
func (r *rig) open(t *testing.T, purpose flow.Purpose, subject string, m method.Method, decoy bool) (*flow.Flow, method.Enrollment) {
	t.Helper()
	ctx := t.Context()
	f := &flow.Flow{Purpose: purpose, UserID: subject, Subject: subject, Decoy: decoy, State: flow.ChoosingMethod}
	if decoy {
		f.UserID = ""
	}
	if err := r.e.Flows().Create(ctx, f, flow.NewBindToken()); err != nil {
		t.Fatal(err)
	}
	en := method.Enrollment{ID: "en-" + subject, UserID: subject, Method: m.Name()}
	if _, err := r.e.Issue(ctx, f, m, method.Ref{ID: subject, Decoy: decoy}, en, ""); err != nil {
		t.Fatal(err)
	}
	return f, en
}

func (r *rig) failureCount(t *testing.T, subject string) int64 {
	var n int64
	if err := r.g.Table("sspr_failures").Where("subject = ?", subject).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func (r *rig) events(t *testing.T, userID, typ string) int {
	evs, err := r.audit.List(t.Context(), audit.Filter{UserID: userID, Type: typ})
	if err != nil {
		t.Fatal(err)
	}
	return len(evs)
}

func sets() []db.Set { return []db.Set{pschema.Set(), schema.Set()} }

// TestVerifyVerdicts: every kind of answer, and what the engine makes of
// it: the verdict, the flow's state, the failures counted, whether the
// method was asked at all.
func TestVerifyVerdicts(t *testing.T) {
	tests := []struct {
		name       string
		answers    []string // earlier answers, then the one under test
		resendable bool
		decoy      bool
		purpose    flow.Purpose
		priorFails int // failures of the subject before the flow
		satisfied  bool
		want       Verdict
		wantState  flow.State
		wantFails  int64
		wantCalls  int64
		dropped    bool
		replay     bool
	}{
		{name: "right-meets-policy", answers: []string{"right"}, satisfied: true, want: Proven, wantState: flow.Proven, wantCalls: 1},
		{name: "right-needs-another", answers: []string{"right"}, want: Proven, wantState: flow.ChoosingMethod, wantCalls: 1},
		{name: "wrong-is-counted", answers: []string{"nope"}, want: Wrong, wantState: flow.CodeSent, wantFails: 1, wantCalls: 1},
		{name: "dead-is-dropped", answers: []string{"dead"}, want: Ended, wantState: flow.ChoosingMethod, wantFails: 1, wantCalls: 1, dropped: true},
		{name: "dead-resendable-stays", answers: []string{"dead"}, resendable: true, want: Ended, wantState: flow.CodeSent, wantFails: 1, wantCalls: 1},
		{name: "pending-is-free", answers: []string{"pending", "pending", "pending", "pending", "pending", "pending"}, want: Pending, wantState: flow.CodeSent, wantCalls: 6},
		{name: "replay-is-reported", answers: []string{"replay"}, want: Wrong, wantState: flow.CodeSent, wantFails: 1, wantCalls: 1, replay: true},
		{name: "decoy-never-proves", answers: []string{"right"}, decoy: true, want: Wrong, wantState: flow.CodeSent, wantFails: 1, wantCalls: 1},
		{name: "fifth-wrong-blocks", answers: []string{"a", "b", "c", "d", "e"}, want: Blocked, wantState: flow.ChoosingMethod, wantFails: 5, wantCalls: 5, dropped: true},
		{name: "blocked-subject-is-not-asked", answers: []string{"right"}, priorFails: 5, want: Blocked, wantState: flow.CodeSent, wantFails: 5},
		{name: "stepup-right", answers: []string{"right"}, purpose: flow.StepUp, satisfied: true, want: Proven, wantState: flow.Proven, wantCalls: 1},
		{name: "stepup-replay", answers: []string{"replay"}, purpose: flow.StepUp, want: Wrong, wantState: flow.CodeSent, wantFails: 1, wantCalls: 1, replay: true},
	}
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		r := newRig(t, g)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ctx := t.Context()
				subject := "u-" + tc.name
				var m method.Method
				fk := &fake{name: "fake"}
				m = fk
				if tc.resendable {
					rs := &resending{fake{name: "fake"}}
					fk, m = &rs.fake, rs
				}
				for range tc.priorFails {
					if err := r.failures.Add(ctx, subject); err != nil {
						t.Fatal(err)
					}
				}
				purpose := tc.purpose
				if purpose == "" {
					purpose = flow.Recover
				}
				f, en := r.open(t, purpose, subject, m, tc.decoy)
				rep := &reporter{}
				var out Outcome
				var err error
				for _, ans := range tc.answers {
					out, err = r.e.Verify(ctx, Attempt{Flow: f, Method: m, Ref: method.Ref{ID: subject, Decoy: tc.decoy}, Enrollment: en,
						Answer: method.Input{"code": ans}, Reporter: rep,
						Satisfied: func(context.Context, []flow.Proof) (bool, error) { return tc.satisfied, nil }})
					if err != nil {
						t.Fatal(err)
					}
				}
				if out.Verdict != tc.want || out.Dropped != tc.dropped || out.Replay != tc.replay {
					t.Fatalf("outcome %+v (%s), want %s dropped=%v replay=%v", out, out.Verdict, tc.want, tc.dropped, tc.replay)
				}
				if f.State != tc.wantState {
					t.Errorf("state %s, want %s", f.State, tc.wantState)
				}
				if got := r.failureCount(t, subject); got != tc.wantFails {
					t.Errorf("%d failures recorded, want %d", got, tc.wantFails)
				}
				if got := fk.calls.Load(); got != tc.wantCalls {
					t.Errorf("method asked %d times, want %d", got, tc.wantCalls)
				}
				if tc.replay != (rep.n.Load() == 1) || tc.replay != (r.events(t, subject, "totp.replay") == 1) {
					t.Errorf("replay reported %d times, audited %d, want %v", rep.n.Load(), r.events(t, subject, "totp.replay"), tc.replay)
				}
				if tc.want == Blocked && r.events(t, subject, audit.RecoveryBlocked) == 0 {
					t.Error("block not audited")
				}
			})
		}
	})
}

// TestTriesPerChallenge: a challenge is judged at most MaxTries times; a
// resend keeps the count; a new challenge starts again from zero.
func TestTriesPerChallenge(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		r := newRig(t, g)
		ctx := t.Context()
		m := &resending{fake{name: "fake"}}
		f, en := r.open(t, flow.Recover, "u1", m, false)
		for range MaxTries - 1 {
			if ok, last, err := r.e.tries.claim(ctx, f.ID, f.ChallengeID); err != nil || !ok || last {
				t.Fatalf("claim = %v %v %v", ok, last, err)
			}
		}
		ch, err := r.e.Challenge(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.e.Resent(ctx, f, ch); err != nil {
			t.Fatal(err)
		}
		if ok, last, err := r.e.tries.claim(ctx, f.ID, f.ChallengeID); err != nil || !ok || !last {
			t.Fatalf("the last try after a resend: %v %v %v", ok, last, err)
		}
		out, err := r.e.Verify(ctx, Attempt{Flow: f, Method: m, Ref: method.Ref{ID: "u1"}, Enrollment: en, Answer: method.Input{"code": "right"}})
		if err != nil || out.Verdict != Ended || m.calls.Load() != 0 {
			t.Fatalf("a right answer after every try was spent: %+v %v, method asked %d times", out, err, m.calls.Load())
		}
		// Try another way, then this method again: a fresh count.
		if _, err := r.e.Issue(ctx, f, m, method.Ref{ID: "u1"}, en, ""); err != nil {
			t.Fatal(err)
		}
		out, err = r.e.Verify(ctx, Attempt{Flow: f, Method: m, Ref: method.Ref{ID: "u1"}, Enrollment: en, Answer: method.Input{"code": "right"}})
		if err != nil || out.Verdict != Proven {
			t.Fatalf("a new challenge: %+v %v", out, err)
		}
	})
}

// TestClaimIsAtomic: of 50 claims at once on one challenge exactly
// MaxTries succeed, and of 50 failure reservations for one subject at
// most MaxFailures.
func TestClaimIsAtomic(t *testing.T) {
	const n = 50
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		r := newRig(t, g)
		ctx := t.Context()
		f, _ := r.open(t, flow.Recover, "u1", &fake{name: "fake"}, false)
		var claimed, reserved atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				ok, _, err := r.e.tries.claim(ctx, f.ID, f.ChallengeID)
				if err != nil {
					errs <- err
				}
				if ok {
					claimed.Add(1)
				}
			}()
			go func() {
				defer wg.Done()
				_, ok, err := r.failures.Reserve(ctx, "u2")
				if err != nil {
					errs <- err
				}
				if ok {
					reserved.Add(1)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		t.Logf("%d of %d claims succeeded, %d of %d reservations", claimed.Load(), n, reserved.Load(), n)
		if claimed.Load() != MaxTries {
			t.Errorf("%d claims succeeded, want exactly %d", claimed.Load(), MaxTries)
		}
		if reserved.Load() > flow.MaxFailures {
			t.Errorf("%d reservations admitted, want at most %d", reserved.Load(), flow.MaxFailures)
		}
	})
}

// TestParallelVerify: 50 wrong answers at once reach the method at most
// MaxTries times.
func TestParallelVerify(t *testing.T) {
	const n = 50
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		r := newRig(t, g)
		m := &fake{name: "fake"}
		f, en := r.open(t, flow.Recover, "u1", m, false)
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cp := *f // each request loads its own copy of the flow
				_, _ = r.e.Verify(t.Context(), Attempt{Flow: &cp, Method: m, Ref: method.Ref{ID: "u1"}, Enrollment: en, Answer: method.Input{"code": "nope"}})
			}()
		}
		wg.Wait()
		t.Logf("%d of %d parallel wrong answers judged", m.calls.Load(), n)
		if m.calls.Load() > MaxTries {
			t.Fatalf("%d of %d judged, want at most %d", m.calls.Load(), n, MaxTries)
		}
	})
}

// TestConfirm: a new method's confirmation goes through the same tries;
// a confirmed registration is done before the caller stores it.
func TestConfirm(t *testing.T) {
	tests := []struct {
		name      string
		answers   []string
		want      Verdict
		wantErr   error
		wantState flow.State
	}{
		{"right", []string{"right"}, Proven, nil, flow.Done},
		{"wrong", []string{"nope"}, Wrong, nil, flow.CodeSent},
		{"five-wrong-then-right", []string{"a", "b", "c", "d", "e", "right"}, Blocked, nil, flow.CodeSent},
		{"expired", []string{"expired"}, 0, method.ErrExpired, flow.CodeSent},
	}
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		r := newRig(t, g)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ctx := t.Context()
				m := &fake{name: "fake"}
				f := &flow.Flow{Purpose: flow.Register, UserID: "r-" + tc.name, Subject: "r-" + tc.name}
				if err := r.e.Flows().Create(ctx, f, flow.NewBindToken()); err != nil {
					t.Fatal(err)
				}
				if err := r.e.Pending(ctx, f, m.Name(), "", []byte("sealed")); err != nil {
					t.Fatal(err)
				}
				var out Outcome
				var err error
				for _, a := range tc.answers {
					_, out, err = r.e.Confirm(ctx, f, m, method.Ref{ID: f.UserID}, method.Pending{Method: m.Name()}, method.Input{"code": a})
				}
				if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && out.Verdict != tc.want) {
					t.Fatalf("outcome %s %v, want %s %v", out.Verdict, err, tc.want, tc.wantErr)
				}
				if f.State != tc.wantState {
					t.Fatalf("state %s, want %s", f.State, tc.wantState)
				}
			})
		}
	})
}

// TestVerifyRefusesWithoutMethod: a flow whose method this instance lacks
// is an error the caller words, never a nil dereference.
func TestVerifyRefusesWithoutMethod(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		r := newRig(t, g)
		f, en := r.open(t, flow.StepUp, "u1", &fake{name: "fake"}, false)
		if _, err := r.e.Verify(t.Context(), Attempt{Flow: f, Ref: method.Ref{ID: "u1"}, Enrollment: en}); !errors.Is(err, ErrNoMethod) {
			t.Fatalf("err = %v, want ErrNoMethod", err)
		}
	})
}
