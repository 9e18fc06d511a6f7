// Package methodtest is the behaviour kit every verification method passes
// (after Dex's storage conformance suite): register, then challenge and
// verify with a right answer, a wrong one, a reused one and an expired
// challenge, plus the binding of a challenge to its flow and user.
//
// A method's test supplies a Harness that knows how to answer it (read the
// code from the outbox, compute the TOTP code, give the answers).
package methodtest

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/provider/clocktest"
)

// Harness adapts one method to the kit.
type Harness struct {
	Method method.Method
	Store  *method.Store
	// User is the registering user.
	User method.Ref
	// Register is the input to Begin.
	Register method.Input
	// Confirm returns the answer that finishes registration p.
	Confirm func(t *testing.T, p method.Pending) method.Input
	// Right returns a correct answer to challenge c of enrollment e.
	Right func(t *testing.T, e method.Enrollment, c method.Challenge) method.Input
	// Wrong returns an incorrect answer to c.
	Wrong func(t *testing.T, c method.Challenge) method.Input
	// Advance moves the method's clock forward.
	Advance func(d time.Duration)
	// Expiry is how long a challenge lives (0: challenges do not expire on
	// their own, e.g. TOTP whose codes expire with their step).
	Expiry time.Duration
	// Reusable: a right answer may be used again in a new challenge
	// (security questions). Otherwise a reused answer must fail.
	Reusable bool
}

func flowID() string { return rand.Text() }

// Register runs Begin/Finish and stores the enrollment.
func Register(t *testing.T, h Harness) method.Enrollment {
	t.Helper()
	ctx := t.Context()
	fid := flowID()
	p, err := h.Method.Begin(ctx, fid, h.User, h.Register)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if p.Method != h.Method.Name() || p.Label == "" {
		t.Fatalf("Begin: pending = %+v, want method %s and a label", p, h.Method.Name())
	}
	var ans method.Input
	if !p.Ready {
		// A wrong answer does not finish the registration.
		e, res, err := h.Method.Finish(ctx, fid, h.User, p, h.wrongConfirm())
		if err != nil || res.OK || e.ID != "" {
			t.Fatalf("Finish(wrong) = %+v, %+v, %v; want not ok", e, res, err)
		}
		ans = h.Confirm(t, p)
		// Another flow cannot finish it.
		if e, res, _ := h.Method.Finish(ctx, flowID(), h.User, p, ans); res.OK || e.ID != "" {
			t.Fatalf("Finish in another flow succeeded")
		}
	}
	e, res, err := h.Method.Finish(ctx, fid, h.User, p, ans)
	if err != nil || !res.OK {
		t.Fatalf("Finish = %+v, %v", res, err)
	}
	if e.ID == "" || e.UserID != h.User.ID || e.Method != h.Method.Name() || len(e.Data) == 0 {
		t.Fatalf("Finish: enrollment = %+v", e)
	}
	if err := h.Store.Add(ctx, &e, 0); err != nil {
		t.Fatalf("Store.Add: %v", err)
	}
	return e
}

func (h Harness) wrongConfirm() method.Input {
	return method.Input{"code": "00000000"}
}

// Run runs the behaviour kit.
func Run(t *testing.T, h Harness) {
	t.Helper()
	e := Register(t, h)
	ctx := t.Context()

	t.Run("right-answer-passes-once", func(t *testing.T) {
		fid := flowID()
		c := challenge(t, h, fid, e)
		ans := h.Right(t, e, c)
		res := verify(t, h, fid, e, c, ans)
		if !res.OK {
			t.Fatalf("right answer: %+v, want OK", res)
		}
		if res := verify(t, h, fid, e, c, ans); res.OK {
			t.Fatalf("same answer twice on one challenge: OK, want failure")
		}
		if !h.Reusable {
			c2 := challenge(t, h, fid, e)
			if res := verify(t, h, fid, e, c2, ans); res.OK {
				t.Fatalf("used answer accepted in a new challenge")
			}
		}
	})
	t.Run("wrong-answer-fails", func(t *testing.T) {
		fid := flowID()
		c := challenge(t, h, fid, e)
		if res := verify(t, h, fid, e, c, h.Wrong(t, c)); res.OK {
			t.Fatalf("wrong answer accepted")
		}
		if res := verify(t, h, fid, e, c, method.Input{}); res.OK {
			t.Fatalf("empty answer accepted")
		}
	})
	t.Run("other-flow-fails", func(t *testing.T) {
		fid := flowID()
		c := challenge(t, h, fid, e)
		ans := h.Right(t, e, c)
		if res := verify(t, h, flowID(), e, c, ans); res.OK {
			t.Fatalf("challenge answered from another flow")
		}
	})
	t.Run("other-user-fails", func(t *testing.T) {
		fid := flowID()
		c := challenge(t, h, fid, e)
		ans := h.Right(t, e, c)
		other := method.Ref{ID: rand.Text(), Username: "mallory"}
		res, err := h.Method.Verify(ctx, fid, other, e, c, ans)
		if err != nil || res.OK {
			t.Fatalf("another user's verify = %+v, %v; want not ok", res, err)
		}
		if _, err := h.Method.Challenge(ctx, fid, other, e); err == nil {
			t.Fatalf("another user could challenge the enrollment")
		}
	})
	if h.Expiry > 0 {
		t.Run("expired-fails", func(t *testing.T) {
			fid := flowID()
			c := challenge(t, h, fid, e)
			ans := h.Right(t, e, c)
			h.Advance(h.Expiry + time.Second)
			if res := verify(t, h, fid, e, c, ans); res.OK {
				t.Fatalf("expired challenge accepted")
			}
		})
	}
	if r, ok := h.Method.(method.Resender); ok {
		// NIST 800-63B §3.1.3.2 / checklist 13: 4 wrong, resend, 1 wrong
		// kills the challenge exactly as 5 wrong would.
		t.Run("resend-keeps-failure-count", func(t *testing.T) {
			fid := flowID()
			c := challenge(t, h, fid, e)
			for i := range 4 {
				if res := verify(t, h, fid, e, c, h.Wrong(t, c)); res.OK || res.Dead {
					t.Fatalf("wrong answer %d: %+v, want a live failure", i+1, res)
				}
			}
			c2, err := r.Resend(ctx, fid, h.User, e, c)
			if err != nil {
				t.Fatalf("Resend: %v", err)
			}
			if res := verify(t, h, fid, e, c2, h.Wrong(t, c2)); !res.Dead {
				t.Fatalf("fifth wrong answer after a resend: %+v, want dead", res)
			}
			if res := verify(t, h, fid, e, c2, h.Right(t, e, c2)); res.OK {
				t.Fatal("right answer accepted on a dead challenge")
			}
			if _, err := r.Resend(ctx, fid, h.User, e, c2); err == nil {
				t.Fatal("a dead challenge was resent")
			}
		})
	}
	t.Run("decoy-never-passes", func(t *testing.T) {
		fid := flowID()
		decoy := method.Ref{ID: "", Username: "nobody", Decoy: true}
		d := method.Enrollment{ID: "decoy-" + rand.Text()[:10], Method: h.Method.Name(), Label: e.Label}
		c, err := h.Method.Challenge(ctx, fid, decoy, d)
		if err != nil {
			t.Fatalf("decoy challenge: %v", err)
		}
		res, err := h.Method.Verify(ctx, fid, decoy, d, c, method.Input{"code": "12345678", "answer.0": "x"})
		if err != nil || res.OK {
			t.Fatalf("decoy verify = %+v, %v", res, err)
		}
	})
}

func challenge(t *testing.T, h Harness, fid string, e method.Enrollment) method.Challenge {
	t.Helper()
	c, err := h.Method.Challenge(t.Context(), fid, h.User, e)
	if err != nil {
		t.Fatalf("Challenge: %v", err)
	}
	if c.ID == "" || c.EnrollmentID != e.ID || c.FlowID != fid || c.Method != h.Method.Name() {
		t.Fatalf("Challenge = %+v", c)
	}
	return c
}

func verify(t *testing.T, h Harness, fid string, e method.Enrollment, c method.Challenge, ans method.Input) method.Result {
	t.Helper()
	res, err := h.Method.Verify(context.WithoutCancel(t.Context()), fid, h.User, e, c, ans)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return res
}

// Clock is a settable clock for harnesses, safe for concurrent use.
type Clock = clocktest.Clock

// NewClock starts at a fixed instant (on a 30 s boundary + 5 s).
func NewClock() *Clock { return clocktest.At(time.Date(2026, 11, 26, 12, 0, 5, 0, time.UTC)) }

// SendRows counts the codes issued and the send-limit counters in g: a
// call that must send nothing (an administrator's Provision) leaves both
// unchanged.
func SendRows(t *testing.T, g *gorm.DB) [2]int64 {
	t.Helper()
	var out [2]int64
	for i, table := range []string{"sspr_challenges", "sspr_ratelimits"} {
		if err := g.Table(table).Count(&out[i]).Error; err != nil {
			t.Fatal(err)
		}
	}
	return out
}
