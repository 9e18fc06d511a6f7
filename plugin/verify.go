package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/plugin/proof"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// Message IDs Security info shows after a failed proof, where the page
// knows only the verdict.
const (
	idWrong = "verify.error.wrong"
	idDead  = "verify.error.dead"
	idOver  = "verify.error.over"
)

// What the recovery pages say after a failed proof or send: message IDs
// of the verify catalog, one for every cause, identical for decoys and
// real users.
const (
	idWrongCode     = "verify.error.wrong_code"
	idWrongTOTP     = "verify.error.wrong_totp"
	idWrongAnswers  = "verify.error.wrong_answers"
	idCodeExpired   = "verify.error.expired"
	idCodeTries     = "verify.error.tries"
	idOverExpired   = "verify.error.over_expired"
	idOverTries     = "verify.error.over_tries"
	idPushLapsed    = "verify.error.push"
	idResendDead    = "verify.error.resend_dead"
	idResendTooMany = "verify.error.resend_too_many"
	idResendNotHere = "verify.error.resend_not_here"
	idTooMany       = "verify.error.too_many"
	idUnavailable   = "verify.error.unavailable"
	idPhoneFailed   = "verify.error.phone"
	idChooseOne     = "recover.method.error.choose"
	idPushWaiting   = "verify.notice.waiting"
	idSentAgain     = "verify.notice.sent_again"
)

// sendProblemID is sendProblem for the recovery pages: the message ID of
// a failure to send that the user can act on.
func sendProblemID(err error) (id string, ok bool) {
	var dm deliveryMessage
	switch {
	case errors.As(err, &dm):
		return idPhoneFailed, true
	case errors.Is(err, method.ErrRateLimited):
		return idTooMany, true
	case errors.Is(err, method.ErrUnavailable):
		return idUnavailable, true
	case errors.Is(err, secret.ErrOpen):
		slog.Error("plugin: a registered method cannot be opened (was LATCHKEY_SECRET changed?)", "err", err)
		return idUnavailable, true
	}
	return "", false
}

// deliveryMessage is what a method's delivery error offers the page
// (phone.DeliveryError: "We couldn't reach your phone…"), never the
// gateway's own words.
type deliveryMessage interface{ Message() string }

// sendProblem words a failure to send a code or push that the user can
// act on (pick another method, wait) in the page's language; ok is false
// for anything else, which stays an error. A method's delivery error is
// never shown in its own (English) words.
func sendProblem(l *i18n.Localizer, err error) (msg string, ok bool) {
	id, ok := sendProblemID(err)
	if !ok {
		return "", false
	}
	return l.T(id), true
}

// answerFields are the form fields a challenge answer may use.
var answerFields = []string{"code", "number", "answer.*"}

func (p *recovery) verifyPage(c echo.Context) error {
	f, err := p.loadStep(c, flow.Recover, flow.StepVerify)
	if err != nil {
		return err
	}
	return p.renderVerify(c, f, "", "")
}

// loadStep reads the flow named in the path for this browser and checks
// that step may be served now.
func (p *Plugin) loadStep(c echo.Context, purpose flow.Purpose, step flow.Step) (*flow.Flow, error) {
	f, err := p.proofs.Load(c.Request().Context(), c.Param("flow"), web.CookieValue(c.Request(), bindCookie, p.secure), purpose, step)
	if err != nil {
		if purpose == flow.Recover {
			return nil, p.flowErrFor(f, err)
		}
		return nil, flowErr(err)
	}
	return f, nil
}

// renderVerify shows the flow's challenge; msg and notice are message
// IDs ("" for none).
func (p *recovery) renderVerify(c echo.Context, f *flow.Flow, msg, notice string) error {
	ch, err := p.openChallenge(f)
	if err != nil {
		return err
	}
	pol, err := p.d.Policy.Get(c.Request().Context())
	if err != nil {
		return err
	}
	_, resend := p.resender(ch.Method)
	return p.render(c, http.StatusOK, "recover-verify", map[string]any{
		"Flow": f.ID, "Prompt": ch.Prompt, "Method": string(ch.Method), "Resend": resend,
		"Error": tr(c, msg), "Notice": tr(c, notice),
		"Kind": p.verifyKind(ch), "Until": ch.ExpiresAt, "Step": proofStep(pol, f),
		"Action": p.path("/recover/" + f.ID + "/verify"), "Other": p.path("/recover/" + f.ID + "/method"),
		"ResendAction": p.path("/recover/" + f.ID + "/resend"), "Cancel": p.cancelURL(f.AuthRequestID),
		"Back": p.path("/recover/" + f.ID + "/method"),
	})
}

// verifyKind names what the verify page asks for, so its words fit the
// way the person chose: "email", "sms", "voice", "totp", "push",
// "questions", or "code" for any other code.
func (p *Plugin) verifyKind(ch method.Challenge) string {
	switch {
	case ch.Prompt.Kind == "questions":
		return "questions"
	case ch.Prompt.Kind == "number":
		return "push"
	case ch.Prompt.Kind == "totp":
		return "totp"
	case ch.Prompt.Channel == "voice":
		return "voice"
	case ch.Prompt.Channel == "sms":
		return "sms"
	case p.info(ch.Method).MailAddress:
		return "email"
	}
	return "code"
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
func (p *recovery) enrollmentOf(ctx context.Context, f *flow.Flow, u *user.User, ref method.Ref) (method.Enrollment, error) {
	if f.Decoy {
		return p.decoyEnrollment(ctx, f)
	}
	e, err := p.d.Enrollments.Get(ctx, u.ID, f.EnrollmentID)
	if errors.Is(err, method.ErrNotFound) {
		return e, flowErr(flow.ErrOutOfOrder) // deleted meanwhile
	}
	return e, err
}

func (p *recovery) resend(c echo.Context) error {
	ctx := c.Request().Context()
	if _, err := form(c); err != nil {
		return err
	}
	f, err := p.loadStep(c, flow.Recover, flow.StepVerify)
	if err != nil {
		return err
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
		return p.renderVerify(c, f, idResendTooMany, "")
	}
	ch, err = r.Resend(ctx, f.ID, ref, e, ch)
	if err != nil {
		var dm deliveryMessage
		if errors.As(err, &dm) {
			return p.renderVerify(c, f, idPhoneFailed, "")
		}
		switch {
		case errors.Is(err, method.ErrRateLimited):
			return p.renderVerify(c, f, idResendTooMany, "")
		case errors.Is(err, method.ErrDead):
			return p.renderVerify(c, f, idResendDead, "")
		case errors.Is(err, method.ErrUnavailable):
			return p.renderVerify(c, f, idResendNotHere, "")
		}
		return fmt.Errorf("plugin: resend: %w", err)
	}
	if err := p.proofs.Resent(ctx, f, ch); err != nil {
		return flowErr(err)
	}
	if err := p.record(c, audit.CodeSent, f.UserID, f.ID, audit.OK, "resend "+string(e.Method)+" "+e.Label); err != nil {
		return err
	}
	return p.renderVerify(c, f, "", idSentAgain)
}

// errNotApplies stops a proof that was right for a user the policy does
// not cover: told only now, after a proof, so a stranger never learns it.
var errNotApplies = errors.New("plugin: self-service reset not enabled for this user")

// verify checks an answer to the flow's challenge through the proof
// engine: only the method's own verifier can make a proof count, for this
// flow's own challenge, after a try was claimed.
func (p *recovery) verify(c echo.Context) error {
	ctx := c.Request().Context()
	in, err := form(c, answerFields...)
	if err != nil {
		return err
	}
	f, err := p.loadStep(c, flow.Recover, flow.StepVerify)
	if err != nil {
		return err
	}
	u, ref, err := p.subjectOf(ctx, f)
	if err != nil {
		return err
	}
	e, err := p.enrollmentOf(ctx, f, u, ref)
	if err != nil {
		return err
	}
	m, ok := p.d.Methods.Get(e.Method)
	if !ok {
		// Started on an instance that offers the method; this one does not.
		if err := p.proofs.Drop(ctx, f); err != nil {
			return flowErr(err)
		}
		return p.renderMethods(c, f, idUnavailable)
	}
	pol, err := p.d.Policy.Get(ctx)
	if err != nil {
		return err
	}
	// The challenge as it was before the answer: its kind and expiry word
	// a failure.
	ch, err := p.openChallenge(f)
	if err != nil {
		return err
	}
	a := p.attempt(c, f, m, ref, e, method.Input(in))
	a.Satisfied = func(ctx context.Context, proofs []flow.Proof) (bool, error) {
		if !p.appliesTo(ctx, pol, u) {
			return false, errNotApplies
		}
		return p.satisfied(ctx, pol, u, proofs)
	}
	out, err := p.proofs.Verify(ctx, a)
	if errors.Is(err, errNotApplies) {
		return p.message(c, tr(c, "recover.message.off.title"), tr(c, "recover.message.off.text"))
	}
	if err != nil {
		return flowErr(err)
	}
	switch out.Verdict {
	case proof.Pending: // a push not answered yet is no failure: wait on
		return p.renderVerify(c, f, "", idPushWaiting)
	case proof.Blocked:
		return p.paused(c)
	case proof.Proven:
		switch {
		case !out.Satisfied:
			return see(c, p.path("/recover/"+f.ID+"/method"))
		case f.Intent == flow.Unlock:
			return p.unlock(c, f, u)
		default:
			return see(c, p.path("/recover/"+f.ID+"/password"))
		}
	}
	expired := !p.flows.Now().Before(ch.ExpiresAt)
	if out.Dropped {
		return p.renderMethods(c, f, p.lapsedFor(e.Method, expired))
	}
	return p.renderVerify(c, f, failedFor(out, p.verifyKind(ch), expired), "")
}

// failedMessage is the message for a failed answer where the page knows
// only the verdict (adding a method, step-up).
func failedMessage(l *i18n.Localizer, out proof.Outcome) string {
	if out.Verdict == proof.Ended {
		return l.T(idDead)
	}
	return l.T(idWrong)
}

// failedFor (a message ID) says what failed and what to do next, from what the page
// knows alike for decoys and real users: the verdict, the kind of answer
// and whether the challenge had expired.
func failedFor(out proof.Outcome, kind string, expired bool) string {
	switch {
	case out.Verdict == proof.Ended && expired:
		return idCodeExpired
	case out.Verdict == proof.Ended:
		return idCodeTries
	case kind == "totp":
		return idWrongTOTP
	case kind == "questions":
		return idWrongAnswers
	}
	return idWrongCode
}

// attempt is an answer for the proof engine; every page that asks for a
// proof builds it here, so a replayed code is mailed the same way on each.
func (p *Plugin) attempt(c echo.Context, f *flow.Flow, m method.Method, ref method.Ref, e method.Enrollment, in method.Input) proof.Attempt {
	return proof.Attempt{Flow: f, Method: m, Ref: ref, Enrollment: e, Answer: in, Reporter: replayMailer{p: p, c: c}}
}

// replayMailer tells the user a used authenticator code came back.
type replayMailer struct {
	p *Plugin
	c echo.Context
}

func (r replayMailer) Replayed(ctx context.Context, f *flow.Flow) error {
	u, err := r.p.d.Users.ByID(ctx, f.UserID)
	if err != nil {
		return err
	}
	return r.p.notes.notify(ctx, nil, r.c, u, noticeReplay, note{Theirs: true})
}

// paused is the page for a subject whose failure budget is spent.
func (p *Plugin) paused(c echo.Context) error {
	return p.message(c, tr(c, "recover.message.paused.title"), tr(c, "recover.message.paused.text"))
}

// lapsedMessage is what the step-up list says, in the page's language,
// after a challenge of method n ended for good.
func (p *Plugin) lapsedMessage(l *i18n.Localizer, n method.Name) string {
	if p.info(n).LapsedMessage != "" {
		return l.T(idPushLapsed)
	}
	return l.T(idOver)
}

// lapsedFor is lapsedMessage for the recovery pages, as a message ID, when
// the page knows whether the challenge expired.
func (p *Plugin) lapsedFor(n method.Name, expired bool) string {
	switch {
	case p.info(n).LapsedMessage != "":
		return idPushLapsed
	case expired:
		return idOverExpired
	}
	return idOverTries
}

func (p *Plugin) appliesTo(ctx context.Context, pol policy.Policy, u *user.User) bool {
	return pol.AppliesTo(func(g string) bool {
		ok, err := p.d.Users.InGroup(ctx, u.ID, g)
		return err == nil && ok
	})
}

// satisfied applies the policy to proofs for u.
func (p *recovery) satisfied(ctx context.Context, pol policy.Policy, u *user.User, proofs []flow.Proof) (bool, error) {
	hasApp, err := p.hasApp(ctx, pol, u)
	if err != nil {
		return false, err
	}
	pp := make([]policy.Proof, len(proofs))
	for i, pr := range proofs {
		pp[i] = policy.Proof{Method: pr.Method, Channel: pr.Channel}
	}
	return pol.Satisfied(u.Admin, hasApp, pp), nil
}

// hasApp reports whether u registered an authenticator app the policy
// enables (in its cool-down or not): then one proof is enough only when it
// is the app.
func (p *recovery) hasApp(ctx context.Context, pol policy.Policy, u *user.User) (bool, error) {
	all, err := p.d.Enrollments.List(ctx, u.ID)
	if err != nil {
		return false, err
	}
	for _, e := range all {
		if m, ok := p.d.Methods.Get(e.Method); ok && m.Channel(e) == method.ChannelApp && pol.Enabled(string(e.Method)) {
			return true, nil
		}
	}
	return false, nil
}

// amr names the proofs of a flow in RFC 8176 terms (each method's own
// value, never "pwd"), with "mfa" when they came over more than one channel.
func (p *Plugin) amr(proofs []flow.Proof) []string {
	var out []string
	channels := map[string]bool{}
	for _, pr := range proofs {
		channels[pr.Channel] = true
		if v := p.info(method.Name(pr.Method)).AMR; v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	if len(channels) > 1 {
		out = append(out, "mfa")
	}
	return out
}
