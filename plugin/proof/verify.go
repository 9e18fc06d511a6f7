package proof

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/provider/audit"
)

// Verdict is what became of one answer.
type Verdict int

const (
	// Wrong: judged and wrong, counted; the challenge may be answered again.
	Wrong Verdict = iota
	// Ended: the challenge can no longer succeed (expired, used, out of
	// tries). When it cannot be sent again either, the engine dropped it
	// and the flow is back at choosing a method (Outcome.Dropped).
	Ended
	// Blocked: the subject's failure budget is spent; nothing was judged,
	// or this answer spent the last of it.
	Blocked
	// Pending: no answer yet (a push not yet approved): not judged, no try
	// spent; ask again.
	Pending
	// Proven: the method accepted the answer and the proof is recorded in
	// the flow (Outcome.Satisfied says whether the policy is met).
	Proven
)

var verdictNames = [...]string{"wrong", "ended", "blocked", "pending", "proven"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("verdict(%d)", int(v))
}

// Outcome is the engine's answer to one attempt.
type Outcome struct {
	Verdict Verdict
	// Dropped: the challenge was ended in the flow, which now waits for a
	// method to be chosen again.
	Dropped bool
	// Replay: a code that was already used came back (audited, and the
	// attempt's Reporter was told).
	Replay bool
	// Proof and Satisfied are set for Proven.
	Proof     flow.Proof
	Satisfied bool
}

// Reporter hears of security events the user must be told about.
type Reporter interface {
	// Replayed: a used authenticator code of f's user came back.
	Replayed(ctx context.Context, f *flow.Flow) error
}

// Attempt is one answer to the challenge a flow has out.
type Attempt struct {
	Flow       *flow.Flow
	Method     method.Method // the method of Enrollment, from the caller's registry
	Ref        method.Ref
	Enrollment method.Enrollment
	Answer     method.Input
	// Satisfied says whether proofs (the new one last) meet the policy;
	// nil means one proof is enough. An error leaves the flow as it was.
	Satisfied func(ctx context.Context, proofs []flow.Proof) (bool, error)
	// Reporter is told of a replay; nil tells nobody.
	Reporter Reporter
}

// Verify judges an answer to the flow's current challenge. Before the
// method sees it, the subject's failure budget is reserved and one of the
// challenge's tries claimed, both atomically in the database; only an
// answer that holds both is judged. A wrong answer (and every decoy's) is
// counted and audited; a replay is audited and reported; a right one
// becomes a proof through the flow's state machine and is saved.
func (e *Engine) Verify(ctx context.Context, a Attempt) (Outcome, error) {
	f := a.Flow
	if err := f.Allow(flow.StepVerify, e.Now()); err != nil {
		return Outcome{}, err
	}
	if a.Method == nil {
		return Outcome{}, ErrNoMethod
	}
	if a.Enrollment.ID != f.EnrollmentID || a.Enrollment.Method != a.Method.Name() {
		return Outcome{}, flow.ErrOutOfOrder
	}
	ch, err := e.Challenge(f)
	if err != nil {
		return Outcome{}, err
	}
	out, res, err := e.judge(ctx, f, func(ctx context.Context) (method.Result, error) {
		return a.Method.Verify(ctx, f.ID, a.Ref, a.Enrollment, ch, a.Answer)
	})
	if err != nil || out.Verdict == Blocked || out.Verdict == Pending {
		return out, err
	}
	if out.Verdict != Proven {
		return e.failed(ctx, a, out, res)
	}
	if err := e.enr.Used(ctx, a.Enrollment.ID); err != nil {
		return Outcome{}, fmt.Errorf("proof: %w", err)
	}
	if err := e.record(ctx, successEvent(f), f, audit.OK, string(a.Method.Name())); err != nil {
		return Outcome{}, err
	}
	proof := flow.Proof{EnrollmentID: a.Enrollment.ID, Method: string(a.Method.Name()), Channel: string(a.Method.Channel(a.Enrollment))}
	satisfied := true
	if a.Satisfied != nil {
		if satisfied, err = a.Satisfied(ctx, append(append([]flow.Proof(nil), f.Proofs...), proof)); err != nil {
			return Outcome{}, err
		}
	}
	if err := f.Verified(proof, satisfied, e.Now()); err != nil {
		return Outcome{}, err
	}
	if err := e.flows.Save(ctx, nil, f); err != nil {
		return Outcome{}, err
	}
	return Outcome{Verdict: Proven, Proof: f.Proofs[len(f.Proofs)-1], Satisfied: satisfied}, nil
}

// failed audits a counted wrong answer, reports a replay, and drops a
// challenge that ended for good.
func (e *Engine) failed(ctx context.Context, a Attempt, out Outcome, res method.Result) (Outcome, error) {
	f := a.Flow
	if err := e.record(ctx, failureEvent(f), f, audit.Fail, string(a.Method.Name())); err != nil {
		return Outcome{}, err
	}
	if res.Replay && !f.Decoy {
		out.Replay = true
		if err := e.record(ctx, "totp.replay", f, audit.Fail, "authenticator code reused"); err != nil {
			return Outcome{}, err
		}
		if a.Reporter != nil {
			if err := a.Reporter.Replayed(ctx, f); err != nil {
				return Outcome{}, fmt.Errorf("proof: report replay: %w", err)
			}
		}
	}
	if out.Verdict == Ended {
		if _, resend := a.Method.(method.Resender); !resend {
			if err := e.Drop(ctx, f); err != nil {
				return Outcome{}, err
			}
			out.Dropped = true
		}
	}
	blocked, err := e.Blocked(ctx, f)
	if err != nil {
		return Outcome{}, err
	}
	if blocked {
		out.Verdict = Blocked
	}
	return out, nil
}

// judge runs evaluate under a reserved failure and a claimed try. The
// verdict is Wrong, Ended, Blocked, Pending or Proven; Wrong and Ended
// after a judged answer keep the failure, every other outcome returns it.
func (e *Engine) judge(ctx context.Context, f *flow.Flow, evaluate func(context.Context) (method.Result, error)) (Outcome, method.Result, error) {
	reserved, ok, err := e.failures.Reserve(ctx, f.Subject)
	if err != nil {
		return Outcome{}, method.Result{}, err
	}
	if !ok {
		return Outcome{Verdict: Blocked}, method.Result{}, e.record(ctx, audit.RecoveryBlocked, f, audit.Blocked, "")
	}
	release := func(err error) error { return errors.Join(err, e.failures.Release(ctx, reserved)) }
	claimed, last, err := e.tries.claim(ctx, f.ID, f.ChallengeID)
	if err != nil || !claimed {
		// Out of tries: nothing was judged, so nothing is counted.
		return Outcome{Verdict: Ended}, method.Result{Dead: true}, release(err)
	}
	res, err := evaluate(ctx)
	if err != nil {
		return Outcome{}, res, release(fmt.Errorf("proof: verify: %w", err))
	}
	switch {
	case res.Pending && !res.OK:
		err := errors.Join(e.tries.refund(ctx, f.ID, f.ChallengeID), release(nil))
		return Outcome{Verdict: Pending}, res, err
	case res.OK && !f.Decoy:
		return Outcome{Verdict: Proven}, res, release(nil)
	case res.Dead || last:
		return Outcome{Verdict: Ended}, res, nil
	}
	return Outcome{Verdict: Wrong}, res, nil
}

func successEvent(f *flow.Flow) string {
	if f.Purpose == flow.StepUp {
		return audit.StepUp
	}
	return audit.MethodVerified
}

func failureEvent(f *flow.Flow) string {
	if f.Purpose == flow.StepUp {
		return audit.StepUp
	}
	return audit.MethodFailed
}

// Confirm judges the answer that confirms a new method in a registration
// flow (the code sent to a new address, the first code of an app), under
// the same reserved failure and claimed try as any proof. A confirmed
// registration moves the flow to done through its state machine and is
// saved before the caller stores the enrollment, so of racing confirmations
// one wins. ErrExpired and invalid input are the method's errors.
func (e *Engine) Confirm(ctx context.Context, f *flow.Flow, m method.Method, ref method.Ref, pend method.Pending, answer method.Input) (method.Enrollment, Outcome, error) {
	if err := f.Allow(flow.StepVerify, e.Now()); err != nil {
		return method.Enrollment{}, Outcome{}, err
	}
	if f.Purpose != flow.Register || f.EnrollmentID != newEnrollment(m.Name()) || pend.Method != m.Name() {
		return method.Enrollment{}, Outcome{}, flow.ErrOutOfOrder
	}
	var en method.Enrollment
	out, _, err := e.judge(ctx, f, func(ctx context.Context) (method.Result, error) {
		var res method.Result
		var err error
		en, res, err = m.Finish(ctx, f.ID, ref, pend, answer)
		return res, err
	})
	if err != nil || out.Verdict == Blocked || out.Verdict == Pending {
		return method.Enrollment{}, out, err
	}
	if out.Verdict != Proven {
		if err := e.record(ctx, audit.MethodFailed, f, audit.Fail, "confirm new "+string(m.Name())); err != nil {
			return method.Enrollment{}, Outcome{}, err
		}
		return method.Enrollment{}, out, nil
	}
	proof := flow.Proof{EnrollmentID: f.EnrollmentID, Method: string(m.Name()), Channel: string(m.Channel(en))}
	if err := f.Verified(proof, true, e.Now()); err != nil {
		return method.Enrollment{}, Outcome{}, err
	}
	if err := e.Finish(ctx, f); err != nil {
		return method.Enrollment{}, Outcome{}, err
	}
	return en, Outcome{Verdict: Proven, Proof: f.Proofs[len(f.Proofs)-1], Satisfied: true}, nil
}
