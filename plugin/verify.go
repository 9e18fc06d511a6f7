package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
)

var timeZero time.Time

// Messages shown after a failed proof: one for every cause, identical for
// decoys and real users.
const (
	msgWrong = "That did not work. Check what you entered and try again."
	msgDead  = "This code can no longer be used. Send a new code or choose another method."
	msgOver  = "This verification has ended. Choose a method to try again."
	msgPush  = "That request was denied, answered with another number, or expired. Choose a method to try again."
)

// Messages for a code that could not be sent; the user picks another way.
const (
	msgTooMany     = "Too many codes were sent. Please wait a while or choose another method."
	msgUnavailable = "That method is not available now. Choose another one."
)

// deliveryMessage is what a method's delivery error offers the page
// (phone.DeliveryError: "We couldn't reach your phone…"), never the
// gateway's own words.
type deliveryMessage interface{ Message() string }

// sendProblem words a failure to send a code or push that the user can
// act on (pick another method, wait); ok is false for anything else,
// which stays an error.
func sendProblem(err error) (msg string, ok bool) {
	var dm deliveryMessage
	switch {
	case errors.As(err, &dm):
		return dm.Message(), true
	case errors.Is(err, method.ErrRateLimited):
		return msgTooMany, true
	case errors.Is(err, method.ErrUnavailable):
		return msgUnavailable, true
	case errors.Is(err, secret.ErrOpen):
		// The method's stored data was sealed under another secret: the
		// user can still pick another method; the operator must hear.
		slog.Error("plugin: a registered method cannot be opened (was LATCHKEY_SECRET changed?)", "err", err)
		return msgUnavailable, true
	}
	return "", false
}

// answerFields are the form fields a challenge answer may use.
var answerFields = []string{"code", "number", "answer.*"}

func (p *Plugin) verifyPage(c echo.Context) error {
	f, err := p.load(c, flow.Recover)
	if err != nil {
		return err
	}
	if err := f.Allow(flow.StepVerify, p.flows.Now()); err != nil {
		return flowErr(err)
	}
	return p.renderVerify(c, f, "", "")
}

func (p *Plugin) renderVerify(c echo.Context, f *flow.Flow, msg, notice string) error {
	ch, err := p.openChallenge(f)
	if err != nil {
		return err
	}
	_, resend := p.resender(ch.Method)
	return p.render(c, http.StatusOK, "recover-verify", map[string]any{
		"Flow": f.ID, "Prompt": ch.Prompt, "Method": string(ch.Method), "Resend": resend, "Error": msg, "Notice": notice,
		"Action": p.path("/recover/" + f.ID + "/verify"), "Other": p.path("/recover/" + f.ID + "/method"),
		"ResendAction": p.path("/recover/" + f.ID + "/resend"),
	})
}

func (p *Plugin) resender(n method.Name) (method.Resender, bool) {
	m, ok := p.d.Methods.Get(n)
	if !ok {
		return nil, false
	}
	r, ok := m.(method.Resender)
	return r, ok
}

// enrollmentOf finds the enrollment behind the flow's current challenge.
func (p *Plugin) enrollmentOf(ctx context.Context, f *flow.Flow, u *user.User, ref method.Ref) (method.Enrollment, error) {
	if f.Decoy {
		return p.decoyEnrollment(ctx, f)
	}
	e, err := p.d.Enrollments.Get(ctx, u.ID, f.EnrollmentID)
	if errors.Is(err, method.ErrNotFound) {
		return e, flowErr(flow.ErrOutOfOrder) // deleted meanwhile
	}
	return e, err
}

func (p *Plugin) resend(c echo.Context) error {
	ctx := c.Request().Context()
	if _, err := form(c); err != nil {
		return err
	}
	f, err := p.load(c, flow.Recover)
	if err != nil {
		return err
	}
	if err := f.Allow(flow.StepVerify, p.flows.Now()); err != nil {
		return flowErr(err)
	}
	if stop, err := p.stopIfBlocked(c, f); stop {
		return err
	}
	ch, err := p.openChallenge(f)
	if err != nil {
		return err
	}
	r, ok := p.resender(ch.Method)
	if !ok {
		return p.renderVerify(c, f, "", "")
	}
	u, ref, err := p.subjectOf(ctx, f)
	if err != nil {
		return err
	}
	e, err := p.enrollmentOf(ctx, f, u, ref)
	if err != nil {
		return err
	}
	if ok, err := p.sendAllowed(c); err != nil || !ok {
		if err != nil {
			return err
		}
		return p.renderVerify(c, f, "A new code cannot be sent right now. Please wait or choose another method.", "")
	}
	ch, err = r.Resend(ctx, f.ID, ref, e, ch)
	if err != nil {
		var dm deliveryMessage
		if errors.As(err, &dm) {
			return p.renderVerify(c, f, dm.Message(), "")
		}
		if errors.Is(err, method.ErrUnavailable) || errors.Is(err, method.ErrRateLimited) || errors.Is(err, method.ErrDead) {
			return p.renderVerify(c, f, "A new code cannot be sent right now. Please wait or choose another method.", "")
		}
		return fmt.Errorf("plugin: resend: %w", err)
	}
	if f.Challenge, err = p.sealChallenge(f.ID, ch); err != nil {
		return err
	}
	if err := p.flows.Save(ctx, nil, f); err != nil {
		return flowErr(err)
	}
	if err := p.record(c, audit.CodeSent, f.UserID, f.ID, audit.OK, "resend "+string(e.Method)+" "+e.Label); err != nil {
		return err
	}
	return p.renderVerify(c, f, "", "We sent a new code. Earlier codes no longer work.")
}

// verify checks an answer to the flow's challenge. Only the method's own
// verifier can make a proof count, for this flow's own challenge (C22).
func (p *Plugin) verify(c echo.Context) error {
	ctx := c.Request().Context()
	in, err := form(c, answerFields...)
	if err != nil {
		return err
	}
	f, err := p.load(c, flow.Recover)
	if err != nil {
		return err
	}
	if err := f.Allow(flow.StepVerify, p.flows.Now()); err != nil {
		return flowErr(err)
	}
	if stop, err := p.stopIfBlocked(c, f); stop {
		return err
	}
	u, ref, err := p.subjectOf(ctx, f)
	if err != nil {
		return err
	}
	ch, err := p.openChallenge(f)
	if err != nil {
		return err
	}
	e, err := p.enrollmentOf(ctx, f, u, ref)
	if err != nil {
		return err
	}
	m, ok := p.d.Methods.Get(e.Method)
	if !ok {
		return flowErr(flow.ErrOutOfOrder)
	}
	res, err := m.Verify(ctx, f.ID, ref, e, ch, method.Input(in))
	if err != nil {
		return fmt.Errorf("plugin: verify: %w", err)
	}
	if res.Pending && !res.OK {
		// A push not answered yet is no failure: wait on (H8).
		return p.renderVerify(c, f, "", "Waiting for your answer in the authenticator app.")
	}
	if !res.OK || f.Decoy {
		return p.failed(c, f, u, e, res)
	}
	if err := p.d.Enrollments.Used(ctx, e.ID); err != nil {
		return err
	}
	if err := p.record(c, audit.MethodVerified, u.ID, f.ID, audit.OK, string(e.Method)); err != nil {
		return err
	}
	pol, err := p.d.Policy.Get(ctx)
	if err != nil {
		return err
	}
	if !p.appliesTo(ctx, pol, u) {
		// Told only now, after a proof: a stranger never learns it.
		return p.message(c, "Self-service reset is not available for your account",
			"Your identity was verified, but your organisation has not enabled self-service password reset for your account. Please contact your helpdesk.")
	}
	proof := flow.Proof{EnrollmentID: e.ID, Method: string(e.Method), Channel: string(m.Channel(e))}
	satisfied, err := p.satisfied(ctx, pol, u, append(append([]flow.Proof(nil), f.Proofs...), proof))
	if err != nil {
		return err
	}
	if err := f.Verified(proof, satisfied, p.flows.Now()); err != nil {
		return flowErr(err)
	}
	if err := p.flows.Save(ctx, nil, f); err != nil {
		return flowErr(err)
	}
	switch {
	case !satisfied:
		return see(c, p.path("/recover/"+f.ID+"/method"))
	case f.Intent == flow.Unlock:
		return p.unlock(c, f, u)
	default:
		return see(c, p.path("/recover/"+f.ID+"/password"))
	}
}

// failed handles a wrong answer: counted toward the subject's recovery
// block (decoys too), audited, and answered with one message.
func (p *Plugin) failed(c echo.Context, f *flow.Flow, u *user.User, e method.Enrollment, res method.Result) error {
	ctx := c.Request().Context()
	if err := p.failures.Add(ctx, f.Subject); err != nil {
		return err
	}
	uid := ""
	if u != nil {
		uid = u.ID
	}
	if err := p.record(c, audit.MethodFailed, uid, f.ID, audit.Fail, string(e.Method)); err != nil {
		return err
	}
	if res.Replay && u != nil {
		// Checklist 46: a used authenticator code came back: a security
		// event, and the user hears of it.
		if err := p.record(c, "totp.replay", uid, f.ID, audit.Fail, "authenticator code reused"); err != nil {
			return err
		}
		if err := p.notify(ctx, nil, c, u, noticeReplay, note{}); err != nil {
			return err
		}
	}
	if stop, err := p.stopIfBlocked(c, f); stop {
		return err
	}
	if p.over(e.Method, res) {
		if err := f.Dropped(p.flows.Now()); err != nil {
			return flowErr(err)
		}
		if err := p.flows.Save(ctx, nil, f); err != nil {
			return flowErr(err)
		}
		return p.renderMethods(c, f, overMessage(e.Method))
	}
	msg := msgWrong
	if res.Dead {
		msg = msgDead
	}
	return p.renderVerify(c, f, msg, "")
}

func overMessage(n method.Name) string {
	if n == method.Push {
		return msgPush
	}
	return msgOver
}

// over reports whether a failed challenge of method n has ended for good:
// dead, and not one whose code can be sent again (a push).
func (p *Plugin) over(n method.Name, res method.Result) bool {
	_, resend := p.resender(n)
	return res.Dead && !resend
}

func (p *Plugin) appliesTo(ctx context.Context, pol policy.Policy, u *user.User) bool {
	return pol.AppliesTo(func(g string) bool {
		ok, err := p.d.Users.InGroup(ctx, u.ID, g)
		return err == nil && ok
	})
}

// satisfied applies the policy to proofs for u.
func (p *Plugin) satisfied(ctx context.Context, pol policy.Policy, u *user.User, proofs []flow.Proof) (bool, error) {
	all, err := p.d.Enrollments.List(ctx, u.ID)
	if err != nil {
		return false, err
	}
	hasApp := false
	for _, e := range all {
		if m, ok := p.d.Methods.Get(e.Method); ok && m.Channel(e) == method.ChannelApp && pol.Enabled(string(e.Method)) {
			hasApp = true
		}
	}
	pp := make([]policy.Proof, len(proofs))
	for i, pr := range proofs {
		pp[i] = policy.Proof{Method: pr.Method, Channel: pr.Channel}
	}
	return pol.Satisfied(u.Admin, hasApp, pp), nil
}

// amr names the proofs of a flow in RFC 8176 terms (never "pwd"), with
// "mfa" when they came over more than one channel.
func amr(proofs []flow.Proof) []string {
	var out []string
	channels := map[string]bool{}
	add := func(v string) {
		for _, o := range out {
			if o == v {
				return
			}
		}
		out = append(out, v)
	}
	for _, pr := range proofs {
		channels[pr.Channel] = true
		switch method.Name(pr.Method) {
		case method.TOTP:
			add("otp")
		case method.Email:
			add("email")
		case method.Questions:
			add("kba")
		case method.Mobile:
			add("sms")
		case method.AlternatePhone, method.OfficePhone:
			add("tel")
		case method.Push:
			add("swk")
		default:
			add(strings.ToLower(pr.Method))
		}
	}
	if len(channels) > 1 {
		add("mfa")
	}
	return out
}

// unlockEvents are the audit types after which earlier failed proofs no
// longer count (an admin's unlock ends a recovery block early).
var unlockEvents = []string{audit.Unlock, "admin.unlock", "admin.user.unlock", audit.PasswordReset}

// lastUnlock is the time of the user's latest unlock or reset, zero when
// none in the failure window.
func (p *Plugin) lastUnlock(ctx context.Context, userID string) (time.Time, error) {
	var last time.Time
	for _, typ := range unlockEvents {
		evs, err := p.d.Audit.List(ctx, audit.Filter{UserID: userID, Type: typ, Since: p.d.Now().UTC().Add(-flow.FailureWindow), Limit: 1})
		if err != nil {
			return last, err
		}
		if len(evs) > 0 && evs[0].Time.After(last) {
			last = evs[0].Time
		}
	}
	return last, nil
}
