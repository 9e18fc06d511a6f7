package proof

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db"
)

// Sealer seals a challenge to its flow (a *secret.Box).
type Sealer interface {
	Seal(plaintext, aad []byte) []byte
	Open(sealed, aad []byte) ([]byte, error)
}

// Auditor records security events (*audit.Log).
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// Enrollments is what the engine needs of the method store: marking an
// enrollment used after it proved.
type Enrollments interface {
	Used(ctx context.Context, enrollmentID string) error
}

// Config is what an Engine is built from. Every field is required.
type Config struct {
	DB          *gorm.DB
	Flows       *flow.Store
	Failures    *flow.Failures
	Challenges  Sealer // seals challenges with the flow id as context
	Audit       Auditor
	Enrollments Enrollments
}

// Engine runs proofs. Build it with New.
type Engine struct {
	db       *gorm.DB
	flows    *flow.Store
	failures *flow.Failures
	box      Sealer
	audit    Auditor
	enr      Enrollments
	tries    *tries
}

// New checks c and builds the engine.
func New(c Config) (*Engine, error) {
	var missing []string
	for name, isNil := range map[string]bool{"DB": c.DB == nil, "Flows": c.Flows == nil, "Failures": c.Failures == nil,
		"Challenges": c.Challenges == nil, "Audit": c.Audit == nil, "Enrollments": c.Enrollments == nil} {
		if isNil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("proof: missing %s", strings.Join(missing, ", "))
	}
	return &Engine{db: c.DB, flows: c.Flows, failures: c.Failures, box: c.Challenges, audit: c.Audit,
		enr: c.Enrollments, tries: &tries{g: c.DB, now: c.Flows.Now, max: MaxTries}}, nil
}

// Now is the engine's clock (the flow store's), in UTC.
func (e *Engine) Now() time.Time { return e.flows.Now() }

// Flows is the flow store underneath (creation, step-up lookups).
func (e *Engine) Flows() *flow.Store { return e.flows }

// Load reads flow id for the browser holding bindToken and checks that step
// may be served now. Every refusal is one of flow's errors.
func (e *Engine) Load(ctx context.Context, id, bindToken string, purpose flow.Purpose, step flow.Step) (*flow.Flow, error) {
	f, err := e.flows.Get(ctx, id, bindToken, purpose)
	if errors.Is(err, flow.ErrExpired) {
		return f, err // the browser's own flow: its page may offer to start again
	}
	if err != nil {
		return nil, err
	}
	if err := f.Allow(step, e.Now()); err != nil {
		if errors.Is(err, flow.ErrExpired) {
			return f, err
		}
		return nil, err
	}
	return f, nil
}

// Save writes f (optimistic: a lost race is flow.ErrConflict).
func (e *Engine) Save(ctx context.Context, f *flow.Flow) error { return e.flows.Save(ctx, nil, f) }

// Blocked reports whether f's subject has used up its failure budget, and
// audits it when so. Only the failure records decide: a completed recovery
// and an administrator's unlock clear them.
func (e *Engine) Blocked(ctx context.Context, f *flow.Flow) (bool, error) {
	b, err := e.failures.Blocked(ctx, f.Subject, time.Time{})
	if err != nil || !b {
		return false, err
	}
	return true, e.record(ctx, audit.RecoveryBlocked, f, audit.Blocked, "")
}

// Issue starts a proof of en with m in f: the method makes (and, where it
// sends one, sends) the challenge; the engine seals it into the flow, moves
// the flow to code_sent and starts the challenge's try count at zero, in
// one transaction. channel is the user's delivery choice for methods that
// take one ("sms", "voice"); it picks how, never where. A send problem is
// the method's error, for the caller to word.
func (e *Engine) Issue(ctx context.Context, f *flow.Flow, m method.Method, ref method.Ref, en method.Enrollment, channel string) (method.Challenge, error) {
	if err := f.Allow(flow.StepChoose, e.Now()); err != nil {
		return method.Challenge{}, err
	}
	var ch method.Challenge
	var err error
	if ic, ok := m.(method.InputChallenger); ok && (channel == "sms" || channel == "voice") {
		ch, err = ic.ChallengeInput(ctx, f.ID, ref, en, method.Input{"channel": channel})
	} else {
		ch, err = m.Challenge(ctx, f.ID, ref, en)
	}
	if err != nil {
		return method.Challenge{}, err
	}
	sealed, err := e.seal(f.ID, ch)
	if err != nil {
		return method.Challenge{}, err
	}
	if err := f.Challenged(en.ID, ch.ID, sealed, e.Now()); err != nil {
		return method.Challenge{}, err
	}
	return ch, e.saveWithTries(ctx, f)
}

// Resent keeps the challenge a method sent again (a new code, the same
// challenge): its try count goes on, so a resend never buys more tries.
func (e *Engine) Resent(ctx context.Context, f *flow.Flow, ch method.Challenge) error {
	if err := f.Allow(flow.StepVerify, e.Now()); err != nil {
		return err
	}
	if ch.ID != f.ChallengeID {
		return flow.ErrOutOfOrder
	}
	sealed, err := e.seal(f.ID, ch)
	if err != nil {
		return err
	}
	f.Challenge = sealed
	return e.flows.Save(ctx, nil, f)
}

// Pending starts the confirmation of a new method in a registration flow:
// data (the sealed registration in progress) goes into the flow, which
// moves to code_sent with a try count of its own. challengeID is the
// method's (the code sent to the new address), or a fresh one.
func (e *Engine) Pending(ctx context.Context, f *flow.Flow, n method.Name, challengeID string, data []byte) error {
	if f.Purpose != flow.Register {
		return flow.ErrOutOfOrder
	}
	if challengeID == "" {
		challengeID = rand.Text()
	}
	if err := f.Challenged(newEnrollment(n), challengeID, nil, e.Now()); err != nil {
		return err
	}
	f.Data = data
	return e.saveWithTries(ctx, f)
}

// newEnrollment stands for the enrollment a registration will make, which
// has no id before it is confirmed.
func newEnrollment(n method.Name) string { return "new:" + string(n) }

func (e *Engine) saveWithTries(ctx context.Context, f *flow.Flow) error {
	return db.Transact(ctx, e.db, "flow.save_tries", func(tx *gorm.DB) error {
		if err := e.flows.Save(ctx, tx, f); err != nil {
			return err
		}
		return e.tries.open(ctx, tx, f.ID, f.ChallengeID, f.ExpiresAt)
	})
}

// Challenge opens the flow's sealed challenge.
func (e *Engine) Challenge(f *flow.Flow) (method.Challenge, error) {
	var ch method.Challenge
	b, err := e.box.Open(f.Challenge, []byte(f.ID))
	if err != nil {
		return ch, fmt.Errorf("proof: challenge: %w", err)
	}
	if err := json.Unmarshal(b, &ch); err != nil {
		return ch, fmt.Errorf("proof: challenge: %w", err)
	}
	return ch, nil
}

func (e *Engine) seal(flowID string, ch method.Challenge) ([]byte, error) {
	b, err := json.Marshal(ch)
	if err != nil {
		return nil, fmt.Errorf("proof: challenge: %w", err)
	}
	return e.box.Seal(b, []byte(flowID)), nil
}

// Drop ends the flow's challenge without a proof (the method is gone from
// this instance, or the challenge can never succeed): back to choosing.
func (e *Engine) Drop(ctx context.Context, f *flow.Flow) error {
	if err := f.Dropped(e.Now()); err != nil {
		return err
	}
	return e.flows.Save(ctx, nil, f)
}

// Finish ends a proven flow that has nothing left to do (a step-up, a
// registration) and saves it; a lost race is flow.ErrConflict.
func (e *Engine) Finish(ctx context.Context, f *flow.Flow) error {
	if err := f.Finish(e.Now()); err != nil {
		return err
	}
	return e.flows.Save(ctx, nil, f)
}

// Conclude ends a registration flow at sign-in (enough methods, skipped,
// or confirmed) and saves it.
func (e *Engine) Conclude(ctx context.Context, f *flow.Flow) error {
	if err := f.Concluded(e.Now()); err != nil {
		return err
	}
	return e.flows.Save(ctx, nil, f)
}

// StepUpValid reports whether sessionID completed a step-up within window.
func (e *Engine) StepUpValid(ctx context.Context, sessionID string, window time.Duration) (bool, error) {
	return e.flows.StepUpValid(ctx, sessionID, window)
}

// Cleanup deletes try counts of challenges whose flow expired.
func (e *Engine) Cleanup(ctx context.Context) error { return e.tries.cleanup(ctx, e.Now()) }

// record writes an audit event about f with the request's IP and user
// agent (method.RequestFrom).
func (e *Engine) record(ctx context.Context, typ string, f *flow.Flow, outcome, detail string) error {
	r := method.RequestFrom(ctx)
	uid := f.UserID
	if uid == "" {
		uid = "unknown"
	}
	if err := e.audit.Record(ctx, audit.Event{Type: typ, UserID: uid, FlowID: f.ID, IP: r.IP, UserAgent: r.UserAgent,
		Outcome: outcome, Detail: detail}); err != nil {
		return fmt.Errorf("proof: audit: %w", err)
	}
	return nil
}

// ErrNoMethod means the flow's challenge belongs to a method this instance
// does not offer (instances configured differently share a database).
var ErrNoMethod = errors.New("proof: method not available here")
