package flow_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func newFlow(state flow.State, intent flow.Intent) *flow.Flow {
	return &flow.Flow{ID: "x", Purpose: flow.Recover, State: state, Intent: intent, ExpiresAt: t0.Add(flow.TTL)}
}

// TestAllowEveryStepInEveryState is the checklist's table over every step
// and every state (C21): only the listed combinations pass.
func TestAllowEveryStepInEveryState(t *testing.T) {
	states := []flow.State{flow.Identified, flow.ChoosingMethod, flow.CodeSent, flow.Proven, flow.Done}
	steps := []flow.Step{flow.StepIntent, flow.StepChoose, flow.StepVerify, flow.StepPassword, flow.StepUnlock, flow.StepFinished}
	ok := map[flow.Intent]map[flow.Step][]flow.State{
		flow.Reset: {
			flow.StepIntent: {flow.Identified, flow.ChoosingMethod, flow.CodeSent}, flow.StepChoose: {flow.ChoosingMethod, flow.CodeSent},
			flow.StepVerify: {flow.CodeSent}, flow.StepPassword: {flow.Proven}, flow.StepFinished: {flow.Done},
		},
		flow.Unlock: {
			flow.StepIntent: {flow.Identified, flow.ChoosingMethod, flow.CodeSent}, flow.StepChoose: {flow.ChoosingMethod, flow.CodeSent},
			flow.StepVerify: {flow.CodeSent}, flow.StepUnlock: {flow.Proven}, flow.StepFinished: {flow.Done},
		},
	}
	for intent, table := range ok {
		for _, step := range steps {
			for _, st := range states {
				t.Run(string(intent)+"-"+string(step)+"-in-"+string(st), func(t *testing.T) {
					want := false
					for _, s := range table[step] {
						want = want || s == st
					}
					err := newFlow(st, intent).Allow(step, t0)
					if want && err != nil {
						t.Fatalf("Allow = %v, want nil", err)
					}
					if !want && !errors.Is(err, flow.ErrOutOfOrder) {
						t.Fatalf("Allow = %v, want ErrOutOfOrder", err)
					}
				})
			}
		}
	}
}

// TestBackToReasonOnlyBeforeAProof: Back from the method list reaches the
// reason page while nothing is proven; choosing again drops the challenge
// that was out. After a proof, the reason is fixed.
func TestBackToReasonOnlyBeforeAProof(t *testing.T) {
	f := newFlow(flow.ChoosingMethod, flow.Reset)
	if err := f.Challenged("e1", "c1", nil, t0); err != nil {
		t.Fatal(err)
	}
	if err := f.ChooseIntent(flow.Unlock, t0); err != nil {
		t.Fatalf("back to the reason with a code out: %v", err)
	}
	if f.State != flow.ChoosingMethod || f.ChallengeID != "" || f.Intent != flow.Unlock {
		t.Fatalf("after choosing again: state %s, challenge %q, intent %s", f.State, f.ChallengeID, f.Intent)
	}
	if err := f.Verified(flow.Proof{EnrollmentID: "e1", Method: "email"}, false, t0); !errors.Is(err, flow.ErrOutOfOrder) {
		t.Fatalf("the dropped challenge still verified: %v", err)
	}
	if err := f.Challenged("e1", "c2", nil, t0); err != nil {
		t.Fatal(err)
	}
	if err := f.Verified(flow.Proof{EnrollmentID: "e1", Method: "email", Channel: "email"}, false, t0); err != nil {
		t.Fatal(err)
	}
	if err := f.Allow(flow.StepIntent, t0); !errors.Is(err, flow.ErrOutOfOrder) {
		t.Fatalf("reason page after a proof: %v, want ErrOutOfOrder", err)
	}
	if err := f.ChooseIntent(flow.Reset, t0); !errors.Is(err, flow.ErrOutOfOrder) {
		t.Fatalf("reason changed after a proof: %v", err)
	}
}

func TestExpiry(t *testing.T) {
	f := newFlow(flow.ChoosingMethod, flow.Reset)
	if err := f.Allow(flow.StepChoose, t0.Add(flow.TTL-time.Second)); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	if err := f.Allow(flow.StepChoose, t0.Add(flow.TTL)); !errors.Is(err, flow.ErrExpired) {
		t.Fatalf("at expiry: %v, want ErrExpired", err)
	}
}

// TestSwitchingMethodCarriesNothing (C22): a proof counts only for the
// challenge that was out; choosing another method discards it.
func TestSwitchingMethodCarriesNothing(t *testing.T) {
	f := newFlow(flow.ChoosingMethod, flow.Reset)
	if err := f.Challenged("e1", "c1", nil, t0); err != nil {
		t.Fatal(err)
	}
	if err := f.Challenged("e2", "c2", nil, t0); err != nil { // try another way
		t.Fatal(err)
	}
	if err := f.Verified(flow.Proof{EnrollmentID: "e1", Method: "email"}, true, t0); !errors.Is(err, flow.ErrOutOfOrder) {
		t.Fatalf("proof for the abandoned challenge: %v", err)
	}
	if err := f.Verified(flow.Proof{EnrollmentID: "e2", Method: "totp"}, false, t0); err != nil {
		t.Fatal(err)
	}
	if f.State != flow.ChoosingMethod || len(f.Proofs) != 1 {
		t.Fatalf("state %s proofs %v", f.State, f.Proofs)
	}
	if err := f.Challenged("e2", "c3", nil, t0); !errors.Is(err, flow.ErrOutOfOrder) {
		t.Fatalf("re-verifying the same enrollment: %v", err)
	}
}

func TestStore(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		now := t0
		s := flow.NewStore(g, flow.WithClock(func() time.Time { return now }))
		bind := flow.NewBindToken()
		f := &flow.Flow{Purpose: flow.Recover, UserID: "u1", Subject: "u1"}
		if err := s.Create(t.Context(), f, bind); err != nil {
			t.Fatal(err)
		}
		if len(f.ID) != 26 || f.State != flow.Identified {
			t.Fatalf("created %+v", f)
		}
		t.Run("needs-the-binding-cookie", func(t *testing.T) {
			for name, tok := range map[string]string{"none": "", "other-browser": flow.NewBindToken()} {
				if _, err := s.Get(t.Context(), f.ID, tok, flow.Recover); !errors.Is(err, flow.ErrNotFound) {
					t.Errorf("%s: %v, want ErrNotFound", name, err)
				}
			}
			if _, err := s.Get(t.Context(), f.ID, bind, flow.StepUp); !errors.Is(err, flow.ErrNotFound) {
				t.Errorf("other purpose: %v", err)
			}
		})
		t.Run("round-trip", func(t *testing.T) {
			got, err := s.Get(t.Context(), f.ID, bind, flow.Recover)
			if err != nil {
				t.Fatal(err)
			}
			if err := got.ChooseIntent(flow.Reset, now); err != nil {
				t.Fatal(err)
			}
			if err := s.Save(t.Context(), nil, got); err != nil {
				t.Fatal(err)
			}
			if err := s.Save(t.Context(), nil, f); !errors.Is(err, flow.ErrConflict) {
				t.Fatalf("stale save: %v, want ErrConflict", err)
			}
		})
		t.Run("finish-succeeds-once-under-concurrency", func(t *testing.T) {
			base, _ := s.Get(t.Context(), f.ID, bind, flow.Recover)
			base.Challenged("e1", "c1", []byte("sealed"), now)
			base.Verified(flow.Proof{EnrollmentID: "e1", Method: "email", Channel: "email"}, true, now)
			if err := s.Save(t.Context(), nil, base); err != nil {
				t.Fatal(err)
			}
			var wins atomic.Int32
			var wg sync.WaitGroup
			for range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got, err := s.Get(t.Context(), f.ID, bind, flow.Recover)
					if err != nil || got.Finish(now) != nil {
						return
					}
					if s.Save(t.Context(), nil, got) == nil {
						wins.Add(1)
					}
				}()
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("%d finishes succeeded, want exactly 1", wins.Load())
			}
		})
		t.Run("expires", func(t *testing.T) {
			now = t0.Add(flow.TTL + time.Second)
			defer func() { now = t0 }()
			if _, err := s.Get(t.Context(), f.ID, bind, flow.Recover); !errors.Is(err, flow.ErrExpired) {
				t.Fatalf("%v, want ErrExpired", err)
			}
		})
		t.Run("failures-block-after-five-in-a-day", func(t *testing.T) {
			fl := flow.NewFailures(g, func() time.Time { return now })
			for i := range flow.MaxFailures {
				if b, _ := fl.Blocked(t.Context(), "u9", time.Time{}); b {
					t.Fatalf("blocked after %d", i)
				}
				fl.Add(t.Context(), "u9")
			}
			if b, _ := fl.Blocked(t.Context(), "u9", time.Time{}); !b {
				t.Fatal("not blocked after 5")
			}
			if b, _ := fl.Blocked(t.Context(), "u9", now); b {
				t.Fatal("an admin unlock (since=now) must end the block")
			}
			now = t0.Add(flow.FailureWindow + time.Second)
			if b, _ := fl.Blocked(t.Context(), "u9", time.Time{}); b {
				t.Fatal("still blocked after 24 h")
			}
			now = t0
		})
	})
}

// A challenge that ended for good (a refused push) is dropped: no answer
// to it is taken any more, and the user chooses again.
func TestDropped(t *testing.T) {
	f := newFlow(flow.ChoosingMethod, flow.Reset)
	if err := f.Dropped(t0); !errors.Is(err, flow.ErrOutOfOrder) {
		t.Fatalf("dropping with no challenge out: %v", err)
	}
	if err := f.Challenged("e1", "c1", []byte("sealed"), t0); err != nil {
		t.Fatal(err)
	}
	if err := f.Dropped(t0); err != nil {
		t.Fatal(err)
	}
	if f.State != flow.ChoosingMethod || f.ChallengeID != "" || f.Challenge != nil || len(f.Proofs) != 0 {
		t.Fatalf("after drop: state %s challenge %q proofs %v", f.State, f.ChallengeID, f.Proofs)
	}
	if err := f.Allow(flow.StepVerify, t0); !errors.Is(err, flow.ErrOutOfOrder) {
		t.Fatalf("verify after drop: %v", err)
	}
	if err := f.Challenged("e1", "c2", nil, t0); err != nil {
		t.Fatalf("choosing again after drop: %v", err)
	}
}

// TestConcluded: only a registration flow at sign-in, still identified,
// ends without a proof.
func TestConcluded(t *testing.T) {
	tests := []struct {
		name    string
		purpose flow.Purpose
		state   flow.State
		ok      bool
	}{
		{"register-identified", flow.Register, flow.Identified, true},
		{"register-code-sent", flow.Register, flow.CodeSent, false},
		{"register-done", flow.Register, flow.Done, false},
		{"recover-identified", flow.Recover, flow.Identified, false},
		{"stepup-identified", flow.StepUp, flow.Identified, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &flow.Flow{Purpose: tc.purpose, State: tc.state, ExpiresAt: t0.Add(flow.TTL)}
			err := f.Concluded(t0)
			if tc.ok && (err != nil || f.State != flow.Done || f.DoneAt == nil) {
				t.Fatalf("Concluded = %v, state %s", err, f.State)
			}
			if !tc.ok && !errors.Is(err, flow.ErrOutOfOrder) {
				t.Fatalf("Concluded = %v, want ErrOutOfOrder", err)
			}
		})
	}
}

// TestEndUser: every open flow of one user ends at once (a read copy
// loses its save, a later read finds it expired); other users' flows and
// finished ones stay as they were.
func TestEndUser(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		now := t0
		s := flow.NewStore(g, flow.WithClock(func() time.Time { return now }))
		bind := flow.NewBindToken()
		mk := func(user string, p flow.Purpose) *flow.Flow {
			f := &flow.Flow{Purpose: p, UserID: user, Subject: user}
			if err := s.Create(ctx, f, bind); err != nil {
				t.Fatal(err)
			}
			return f
		}
		rec, reg, other := mk("u1", flow.Recover), mk("u1", flow.Register), mk("u2", flow.Recover)
		held, err := s.Get(ctx, rec.ID, bind, flow.Recover) // a step in progress
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.EndUser(ctx, nil, "u1")
		if err != nil || n != 2 {
			t.Fatalf("EndUser = %d, %v; want 2", n, err)
		}
		now = now.Add(time.Millisecond)
		for _, f := range []*flow.Flow{rec, reg} {
			if _, err := s.Get(ctx, f.ID, bind, f.Purpose); !errors.Is(err, flow.ErrExpired) {
				t.Errorf("%s flow after EndUser: %v, want ErrExpired", f.Purpose, err)
			}
		}
		if err := held.ChooseIntent(flow.Reset, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.Save(ctx, nil, held); !errors.Is(err, flow.ErrConflict) {
			t.Errorf("save of a copy read before EndUser: %v, want ErrConflict", err)
		}
		if _, err := s.Get(ctx, other.ID, bind, flow.Recover); err != nil {
			t.Errorf("another user's flow: %v", err)
		}
		if n, err := s.EndUser(ctx, nil, ""); err != nil || n != 0 {
			t.Errorf("EndUser(\"\") = %d, %v; want nothing ended", n, err)
		}
	})
}
