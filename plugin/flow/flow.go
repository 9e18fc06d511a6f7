package flow

import (
	"errors"
	"slices"
	"time"
)

// Purpose says what a flow is for.
type Purpose string

const (
	Recover  Purpose = "recover"  // /recover: reset or unlock
	StepUp   Purpose = "stepup"   // /security-info re-verification
	Register Purpose = "register" // adding a method on /security-info
)

// Intent is what a recovery will do once proven.
type Intent string

const (
	Reset  Intent = "reset"  // "I forgot my password"
	Unlock Intent = "unlock" // "I know my password, but still can't sign in"
)

// State names where a flow stands.
type State string

const (
	Identified     State = "identified"      // a name was accepted; choose reset or unlock
	ChoosingMethod State = "choosing_method" // pick a method to verify (again, when two are needed)
	CodeSent       State = "code_sent"       // a challenge is out; waiting for the answer
	Proven         State = "proven"          // the policy is satisfied; reset: choose a password
	Done           State = "done"            // password set / unlocked / stepped up: terminal
)

// Step is a request a handler wants to serve.
type Step string

const (
	StepIntent   Step = "intent"   // choose reset or unlock
	StepChoose   Step = "choose"   // choose a method ("try another way" included)
	StepVerify   Step = "verify"   // answer or resend the current challenge
	StepPassword Step = "password" // set the new password (reset only)
	StepUnlock   Step = "unlock"   // apply an unlock (unlock only)
	StepFinished Step = "finished" // show the final page
	StepRegister Step = "register" // forced registration or reconfirmation at sign-in: add, skip or continue
)

// Errors. Handlers answer all of them with one generic 403 page.
var (
	ErrNotFound   = errors.New("flow: not found")
	ErrExpired    = errors.New("flow: expired")
	ErrOutOfOrder = errors.New("flow: step not allowed now")
	ErrConflict   = errors.New("flow: changed concurrently")
)

// TTL is a flow's whole lifetime (Entra: 15 minutes).
const TTL = 15 * time.Minute

// Proof is one method verified in this flow by its own verifier.
type Proof struct {
	EnrollmentID string    `json:"enrollment"`
	Method       string    `json:"method"`
	Channel      string    `json:"channel"`
	At           time.Time `json:"at"`
}

// Flow is one flow record.
type Flow struct {
	ID       string
	BindHash string // SHA-256 of the browser's binding cookie
	Purpose  Purpose
	UserID   string // "" for a decoy
	// Subject keys failure counting: the user id, or "decoy:"+HMAC of the
	// normalised name, so unknown names are throttled exactly like users.
	Subject       string
	Decoy         bool
	AuthRequestID string // pending OIDC request, "" when none
	SessionID     string // step-up and registration: the session they belong to
	Intent        Intent
	State         State
	Proofs        []Proof
	EnrollmentID  string // the method of the challenge that is out
	ChallengeID   string
	Challenge     []byte // the method's challenge, sealed by the caller
	Data          []byte // purpose-specific sealed data (e.g. a pending registration)
	Version       int
	CreatedAt     time.Time
	ExpiresAt     time.Time
	DoneAt        *time.Time
}

// allowed lists, per step, the states it may be served in. Anything else is
// out of order: skipping ahead, replaying an earlier step or acting on a
// finished flow.
var allowed = map[Step][]State{
	// Back from the method list reaches the reason page again until a
	// proof was made (Allow checks that).
	StepIntent:   {Identified, ChoosingMethod, CodeSent},
	StepChoose:   {ChoosingMethod, CodeSent},
	StepVerify:   {CodeSent},
	StepPassword: {Proven},
	StepUnlock:   {Proven},
	StepFinished: {Done},
	StepRegister: {Identified},
}

// Allow reports whether step may be served now.
func (f *Flow) Allow(step Step, now time.Time) error {
	if !now.Before(f.ExpiresAt) {
		return ErrExpired
	}
	if !slices.Contains(allowed[step], f.State) {
		return ErrOutOfOrder
	}
	switch step {
	case StepPassword:
		if f.Purpose != Recover || f.Intent != Reset {
			return ErrOutOfOrder
		}
	case StepUnlock:
		if f.Purpose != Recover || f.Intent != Unlock {
			return ErrOutOfOrder
		}
	case StepIntent:
		if f.Purpose != Recover || (f.State != Identified && len(f.Proofs) > 0) {
			return ErrOutOfOrder
		}
	case StepRegister:
		if f.Purpose != Register {
			return ErrOutOfOrder
		}
	}
	return nil
}

// ChooseIntent records reset or unlock. Chosen again after Back, before
// any proof, it drops a challenge that is out, as choosing another method
// would.
func (f *Flow) ChooseIntent(i Intent, now time.Time) error {
	if err := f.Allow(StepIntent, now); err != nil {
		return err
	}
	if i != Reset && i != Unlock {
		return ErrOutOfOrder
	}
	f.Intent, f.State = i, ChoosingMethod
	f.EnrollmentID, f.ChallengeID, f.Challenge = "", "", nil
	return nil
}

// Challenged records the challenge just issued for enrollmentID. It
// replaces any earlier one, so switching methods never carries a success
// (or a half-finished challenge) across.
func (f *Flow) Challenged(enrollmentID, challengeID string, sealed []byte, now time.Time) error {
	if err := f.Allow(StepChoose, now); err != nil {
		return err
	}
	if f.HasProof(enrollmentID) {
		return ErrOutOfOrder
	}
	f.EnrollmentID, f.ChallengeID, f.Challenge = enrollmentID, challengeID, sealed
	f.State = CodeSent
	return nil
}

// Verified records that the current challenge's verifier accepted a proof.
// satisfied says whether the proofs so far meet the policy; if not, the
// flow goes back to choosing another method.
func (f *Flow) Verified(p Proof, satisfied bool, now time.Time) error {
	if err := f.Allow(StepVerify, now); err != nil {
		return err
	}
	if p.EnrollmentID != f.EnrollmentID {
		return ErrOutOfOrder
	}
	p.At = now.UTC()
	f.Proofs = append(f.Proofs, p)
	f.EnrollmentID, f.ChallengeID, f.Challenge = "", "", nil
	if satisfied {
		f.State = Proven
	} else {
		f.State = ChoosingMethod
	}
	return nil
}

// Dropped ends the current challenge without a proof when it can never
// succeed and cannot be sent again (a push denied, answered with a wrong
// number, or expired): the flow goes back to choosing, so pressing
// "continue" again cannot count another failure.
func (f *Flow) Dropped(now time.Time) error {
	if err := f.Allow(StepVerify, now); err != nil {
		return err
	}
	f.EnrollmentID, f.ChallengeID, f.Challenge = "", "", nil
	f.State = ChoosingMethod
	return nil
}

// Finish ends a proven flow (password set, unlocked, stepped up).
func (f *Flow) Finish(now time.Time) error {
	if !now.Before(f.ExpiresAt) {
		return ErrExpired
	}
	if f.State != Proven {
		return ErrOutOfOrder
	}
	t := now.UTC()
	f.State, f.DoneAt = Done, &t
	return nil
}

// Concluded ends a registration flow at sign-in (the user added enough
// methods, skipped, or confirmed them): identified → done, nothing to prove.
func (f *Flow) Concluded(now time.Time) error {
	if err := f.Allow(StepRegister, now); err != nil {
		return err
	}
	t := now.UTC()
	f.State, f.DoneAt = Done, &t
	return nil
}

// HasProof reports whether enrollmentID was already verified in this flow.
func (f *Flow) HasProof(enrollmentID string) bool {
	return slices.ContainsFunc(f.Proofs, func(p Proof) bool { return p.EnrollmentID == enrollmentID })
}

// Methods lists the names of the verified methods, in order, once each.
func (f *Flow) Methods() []string {
	var out []string
	for _, p := range f.Proofs {
		if !slices.Contains(out, p.Method) {
			out = append(out, p.Method)
		}
	}
	return out
}
