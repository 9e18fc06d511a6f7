package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/plugin/proof"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// QuestionPool is an optional interface of the security-questions method:
// the questions a user may pick from at registration.
type QuestionPool interface {
	Available(ctx context.Context) ([]method.Question, error)
}

// access is who is on /security-info and whether they may change things.
type access struct {
	acct    Account
	u       *user.User
	methods []method.Enrollment
	// ok: the methods may be viewed and changed (fresh step-up, or a fresh
	// sign-in with nothing to step up with: then askPassword).
	ok bool
	// first: the first registration of an account that never had a
	// method, in the session that makes it: nothing older to step up with
	// or to protect by a cool-down.
	first bool
	// askPassword: no step-up stands behind ok, so adding a method asks
	// for the account's password on the add page (see grant).
	askPassword bool
}

// who resolves the signed-in user; without a session the browser goes to
// sign in. Disabled accounts get nothing.
func (p *securityInfo) who(c echo.Context) (*access, error) {
	ctx := c.Request().Context()
	acct, ok := p.d.SignIn.Current(c)
	if !ok {
		return nil, see(c, p.signInHere(""))
	}
	u, err := p.d.Users.ByID(ctx, acct.UserID)
	if err != nil || u.Disabled {
		return nil, &web.PageError{Status: http.StatusForbidden, Title: "securityinfo.error.unavailable", Message: "securityinfo.error.signin_again"}
	}
	p.rememberLocale(c, u)
	ms, err := p.d.Enrollments.List(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	a := &access{acct: acct, u: u, methods: ms}
	if err := p.grant(ctx, a); err != nil || a.first {
		return a, err
	}
	if stepped, err := p.proofs.StepUpValid(ctx, acct.SessionID, StepUpWindow); err != nil || stepped {
		a.ok, a.askPassword = stepped, false
		return a, err
	}
	return a, nil // no step-up: the step-up page, or "sign in again" without methods
}

// signInHere is the sign-in page that comes back to Security info.
func (p *securityInfo) signInHere(username string) string {
	u, err := url.Parse(p.d.SignIn.LoginURL("", username))
	if err != nil {
		return p.d.SignIn.LoginURL("", username)
	}
	q := u.Query()
	q.Set("next", p.path("/security-info"))
	u.RawQuery = q.Encode()
	return u.String()
}

// addedSince reports whether every method in ms was added at or after t
// (true when there are none).
func addedSince(ms []method.Enrollment, t time.Time) bool {
	for _, e := range ms {
		if e.CreatedAt.Before(t) {
			return false
		}
	}
	return true
}

// errHandled marks a response already written by who().
var errHandled = errors.New("handled")

func (p *securityInfo) guard(c echo.Context) (*access, error) {
	a, err := p.who(c)
	if a == nil && err == nil {
		return nil, errHandled
	}
	if err != nil {
		return nil, err
	}
	c.Set(askPasswordKey, a.askPassword)
	return a, nil
}

// askPasswordKey tells renderAdd to ask for the account's password.
const askPasswordKey = "sspr.ask-password" // #nosec G101 -- a context key, not a credential

// steppedUp is guard for the pages behind the step-up: without a fresh
// one it shows the step-up page and returns errHandled.
func (p *securityInfo) steppedUp(c echo.Context) (*access, error) {
	a, err := p.guard(c)
	if err != nil {
		return nil, err
	}
	if !a.ok {
		if err := p.stepUpPage(c, a, ""); err != nil {
			return nil, err
		}
		return nil, errHandled
	}
	return a, nil
}

func done(err error) error {
	if errors.Is(err, errHandled) {
		return nil
	}
	return err
}

func (p *securityInfo) securityInfo(c echo.Context) error {
	a, err := p.who(c)
	if a == nil {
		return err
	}
	if !a.ok {
		return p.stepUpPage(c, a, "")
	}
	return p.renderInfo(c, a, doneNotice(i18n.From(c.Request().Context()), c.QueryParam("done")))
}

func (p *securityInfo) renderInfo(c echo.Context, a *access, notice string) error {
	pol, err := p.d.Policy.Get(c.Request().Context())
	if err != nil {
		return err
	}
	now := p.d.Now()
	name := a.u.DisplayName
	if name == "" {
		name = a.u.Username
	}
	back, app := p.backToApp(c, a)
	return p.render(c, http.StatusOK, "security-info", map[string]any{
		"Back": back, "App": app, "Name": name, "Methods": p.rows(i18n.From(c.Request().Context()), a.methods, now), "Add": p.addKinds(i18n.From(c.Request().Context()), pol, a.u), "Notice": notice,
		"Standing":         p.standing(pol, a.u.Admin, a.methods, now, true),
		"QuestionsOffered": slices.Contains(p.addable(pol, a.u), method.Questions),
	})
}

// appsOf keeps the authenticator-app methods of names.
func (p *securityInfo) appsOf(names []method.Name) []method.Name {
	return slices.DeleteFunc(slices.Clone(names), func(n method.Name) bool { return !p.info(n).App })
}

// appChoice is the "Authenticator app" entry of the add list when both
// app methods are offered: its page lets the user pick one.
const appChoice = "app"

// addable lists the methods u may add under pol, in their Rank order.
func (p *securityInfo) addable(pol policy.Policy, u *user.User) []method.Name {
	var out []method.Name
	for _, m := range p.d.Methods.Enabled(pol.Methods) {
		if pol.Usable(string(m.Name()), u.Admin) {
			out = append(out, m.Name())
		}
	}
	slices.SortStableFunc(out, func(x, y method.Name) int { return p.info(x).Rank - p.info(y).Rank })
	return out
}

// addKinds is the "Add sign-in method" list: one "Authenticator app" entry
// for push and TOTP (straight to the method when only one is offered),
// then one entry per other kind.
func (p *securityInfo) addKinds(l *i18n.Localizer, pol policy.Policy, u *user.User) []optionView {
	names := p.addable(pol, u)
	apps := p.appsOf(names)
	app := l.T("method.app.name")
	var out []optionView
	for _, n := range names {
		switch {
		case !p.info(n).App:
			out = append(out, optionView{Method: string(n), Title: p.methodTitle(l, n)})
		case len(apps) == 1: // say which app to install when it is a particular one
			title := app
			if n != method.TOTP {
				title += " (" + p.methodTitle(l, n) + ")"
			}
			out = append(out, optionView{Method: string(n), Title: title})
		case n == apps[0]:
			out = append(out, optionView{Method: appChoice, Title: app})
		}
	}
	return out
}

// appPage (GET /security-info/add/app) is the page behind "Authenticator
// app": the Latchkey Authenticator (push, which also shows codes) first,
// then any other app (codes only). With only one offered it goes there.
func (p *securityInfo) appPage(c echo.Context, a *access) error {
	pol, err := p.d.Policy.Get(c.Request().Context())
	if err != nil {
		return err
	}
	apps := p.appsOf(p.addable(pol, a.u))
	register := cleanAuthRequestID(c.QueryParam("register"))
	switch len(apps) {
	case 0:
		return errNotOffered
	case 1:
		to := "/security-info/add/" + string(apps[0])
		if register != "" {
			to += "?register=" + register
		}
		return see(c, p.path(to))
	}
	views := make([]optionView, len(apps))
	for i, n := range apps {
		views[i] = optionView{Method: string(n), Title: p.methodTitle(i18n.From(c.Request().Context()), n)}
	}
	return p.render(c, http.StatusOK, "security-info-add-app", map[string]any{"Apps": views, "Register": register})
}

var errNotOffered = &web.PageError{Status: http.StatusNotFound, Title: "securityinfo.error.unavailable",
	Message: "securityinfo.error.not_offered"}

// --- step-up ---

func (p *securityInfo) stepUpPage(c echo.Context, a *access, msg string) error {
	second := secondRequest(c)
	if second != "" {
		usable := slices.ContainsFunc(a.methods, func(e method.Enrollment) bool { return e.Usable(p.d.Now()) })
		if !usable {
			return p.render(c, http.StatusForbidden, "security-info-verify", map[string]any{
				"NoSecond": true, "AddURL": p.path("/security-info")})
		}
	}
	if len(a.methods) == 0 {
		return p.render(c, http.StatusOK, "security-info-verify", map[string]any{
			"Stale": true, "SignIn": p.signInHere(a.u.Username)})
	}
	var usable []method.Enrollment
	for _, e := range a.methods {
		if e.Usable(p.d.Now()) {
			usable = append(usable, e)
		}
	}
	return p.render(c, http.StatusOK, "security-info-verify", map[string]any{"Options": p.choices(i18n.From(c.Request().Context()), usable), "Error": msg,
		"Next": p.nextFor(c), "Request": second})
}

func (p *securityInfo) stepUpChoose(c echo.Context) error {
	ctx := c.Request().Context()
	in, err := form(c, "enrollment", "channel", fieldNext, fieldRequest)
	if err != nil {
		return err
	}
	a, err := p.guard(c)
	if err != nil {
		return done(err)
	}
	next := p.cleanNext(in[fieldNext])
	second := cleanAuthRequestID(in[fieldRequest])
	delete(in, fieldNext)
	delete(in, fieldRequest)
	id, channel := splitChoice(in)
	e, err := p.d.Enrollments.Get(ctx, a.u.ID, id)
	if err != nil || !e.Usable(p.d.Now()) {
		return p.stepUpPage(c, a, i18n.From(ctx).T("securityinfo.verify.choose_error"))
	}
	m, ok := p.d.Methods.Get(e.Method)
	if !ok {
		return p.stepUpPage(c, a, i18n.From(ctx).T(idUnavailable))
	}
	f := &flow.Flow{Purpose: flow.StepUp, UserID: a.u.ID, Subject: a.u.ID, SessionID: a.acct.SessionID, AuthRequestID: second}
	bind := p.bindToken(c)
	if err := p.flows.Create(ctx, f, bind); err != nil {
		return err
	}
	// A blocked subject gets no code sent and no push: the answer could
	// not be judged anyway.
	if stop, err := p.stopIfBlocked(c, f); stop {
		return err
	}
	ch, err := p.proofs.Issue(ctx, f, m, p.ref(a.u), e, channel)
	if err != nil {
		return p.issueProblem(c, err, func(msg string) error { return p.stepUpPage(c, a, msg) })
	}
	c.SetCookie(web.Cookie(bindCookie, bind, flow.TTL, p.secure))
	return p.renderStepUpVerify(c, f, ch, "", next)
}

func (p *securityInfo) renderStepUpVerify(c echo.Context, f *flow.Flow, ch method.Challenge, msg, next string) error {
	return p.render(c, http.StatusOK, "security-info-verify", map[string]any{
		"Flow": f.ID, "Prompt": ch.Prompt, "Action": p.path("/security-info/verify/" + f.ID), "Error": msg,
		"Next": p.cleanNext(next)})
}

// stepUpVerify judges a step-up answer through the proof engine, exactly
// as a recovery's: a try claimed first, failures counted toward the same
// block, a replayed code audited and mailed.
func (p *securityInfo) stepUpVerify(c echo.Context) error {
	ctx := c.Request().Context()
	in, err := form(c, append([]string{fieldNext}, answerFields...)...)
	if err != nil {
		return err
	}
	next := p.cleanNext(in[fieldNext])
	delete(in, fieldNext)
	a, err := p.guard(c)
	if err != nil {
		return done(err)
	}
	f, err := p.loadStep(c, flow.StepUp, flow.StepVerify)
	if err != nil {
		return err
	}
	if f.UserID != a.u.ID || f.SessionID != a.acct.SessionID {
		return flowErr(flow.ErrNotFound)
	}
	e, err := p.d.Enrollments.Get(ctx, a.u.ID, f.EnrollmentID)
	if err != nil {
		return flowErr(flow.ErrOutOfOrder)
	}
	m, ok := p.d.Methods.Get(e.Method)
	if !ok {
		// Chosen on an instance that offers the method; this one does not.
		if err := p.proofs.Drop(ctx, f); err != nil {
			return flowErr(err)
		}
		return p.stepUpPage(c, a, i18n.From(ctx).T(idUnavailable))
	}
	ch, err := p.openChallenge(f)
	if err != nil {
		return err
	}
	out, err := p.proofs.Verify(ctx, p.attempt(c, f, m, p.ref(a.u), e, method.Input(in)))
	if err != nil {
		return flowErr(err)
	}
	switch out.Verdict {
	case proof.Pending: // a push not answered yet: wait on
		return p.renderStepUpVerify(c, f, ch, "", next)
	case proof.Blocked:
		return p.paused(c)
	case proof.Proven:
		if err := p.proofs.Finish(ctx, f); err != nil {
			return flowErr(err)
		}
		if f.AuthRequestID != "" {
			return p.secondProven(c, f, e)
		}
		return see(c, p.afterStepUp(next))
	}
	if out.Dropped {
		return p.stepUpPage(c, a, p.lapsedMessage(i18n.From(ctx), e.Method))
	}
	msg := failedMessage(i18n.From(ctx), out)
	if out.Verdict == proof.Wrong {
		msg = wrongAnswer(i18n.From(ctx), ch.Prompt.Kind)
	}
	return p.renderStepUpVerify(c, f, ch, msg, next)
}

// --- add a method ---

func (p *securityInfo) addMethod(c echo.Context, a *access) (method.Method, error) {
	pol, err := p.d.Policy.Get(c.Request().Context())
	if err != nil {
		return nil, err
	}
	n := method.Name(c.Param("method"))
	m, ok := p.d.Methods.Get(n)
	if !ok || !pol.Usable(string(n), a.u.Admin) {
		return nil, errNotOffered
	}
	return m, nil
}

func (p *securityInfo) addPage(c echo.Context) error {
	a, err := p.steppedUp(c)
	if err != nil {
		return done(err)
	}
	if c.Param("method") == appChoice {
		return p.appPage(c, a)
	}
	m, err := p.addMethod(c, a)
	if err != nil {
		return err
	}
	return p.renderAdd(c, m, "", c.QueryParam("register"), nil)
}

// formDataer is the optional interface of methods with a form of their
// own (phones: country, extension, text or call; the page
// "security-info-add-phone").
type formDataer interface {
	FormData(ctx context.Context) (map[string]any, error)
}

// renderAdd shows a method's registration form; in keeps what the user
// typed after a refused try.
func (p *securityInfo) renderAdd(c echo.Context, m method.Method, msg, register string, in method.Input) error {
	pol, err := p.d.Policy.Get(c.Request().Context())
	if err != nil {
		return err
	}
	data := map[string]any{"Method": string(m.Name()), "Title": p.methodTitle(i18n.From(c.Request().Context()), m.Name()), "Error": msg,
		"Register": cleanAuthRequestID(register), "Action": p.path("/security-info/add/" + string(m.Name()))}
	if ask, _ := c.Get(askPasswordKey).(bool); ask {
		data["AskPassword"] = true
	}
	// Bad is the field the message is tied to (aria-describedby): the one a
	// method refused, else the form's own input.
	bad, _ := c.Get(invalidFieldKey).(string)
	data["Bad"] = bad
	if qp, ok := m.(QuestionPool); ok {
		pool, err := qp.Available(c.Request().Context())
		if err != nil {
			return err
		}
		data["Pool"] = pool
		data["Slots"] = questionSlots(pool, pol.QuestionsRegister, in, bad)
	}
	if in["phone"] != "" {
		data["Phone"] = in["phone"]
	}
	if in["extension"] != "" {
		data["ExtensionValue"] = in["extension"]
	}
	return p.renderAddPage(c, m, data, in["country"])
}

// renderAddStep shows the step after Begin: the code sent, the QR code.
func (p *securityInfo) renderAddStep(c echo.Context, a *access, m method.Method, flowID string, pr method.Prompt, msg string) error {
	data := map[string]any{"Method": string(m.Name()), "Title": p.methodTitle(i18n.From(c.Request().Context()), m.Name()), "Prompt": pr, "Flow": flowID,
		"Error": msg, "Action": p.path("/security-info/add/" + string(m.Name()) + "/" + flowID)}
	if pol, err := p.d.Policy.Get(c.Request().Context()); err == nil && !a.first && pol.CoolDown() > 0 {
		now := p.d.Now()
		data["UsableFrom"] = when(i18n.From(c.Request().Context()), now, now.Add(pol.CoolDown()))
	}
	// The otpauth link, for a phone's authenticator app or for pasting into
	// the Latchkey web authenticator (html/template blanks unknown URL
	// schemes, so it is vetted here).
	if pr.Secret != "" {
		data["KeyGroups"] = groupsOfFour(pr.Secret)
	}
	if ch, _ := c.Get(channelKey).(string); ch == "sms" || ch == "voice" {
		data["Channel"] = ch
	}
	if u, err := url.Parse(pr.OTPAuthURI); err == nil && u.Scheme == "otpauth" {
		data["OTPAuthLink"] = template.URL(u.String()) // #nosec G203 -- a re-serialized URL whose scheme was checked to be otpauth (no javascript: or data:)
	}
	return p.renderAddPage(c, m, data, "")
}

// renderAddPage renders the generic add page, or a method's own with its
// form data (country, the region preselected, extension, channels).
func (p *securityInfo) renderAddPage(c echo.Context, m method.Method, data map[string]any, region string) error {
	fd, ok := m.(formDataer)
	if !ok {
		return p.render(c, http.StatusOK, "security-info-add", data)
	}
	extra, err := fd.FormData(c.Request().Context())
	if err != nil {
		return err
	}
	for k, v := range extra {
		if _, set := data[k]; !set {
			data[k] = v
		}
	}
	if region != "" {
		data["Region"] = region
	}
	// A refusal of a field this form does not show (an extension typed for
	// a mobile, a text asked of a call-only phone) is tied to the number.
	bad, _ := data["Bad"].(string)
	ext, _ := data["Extension"].(bool)
	channels, _ := data["Channels"].([]string)
	switch {
	case bad == "country", bad == fieldCurrentPassword, bad == "extension" && ext, bad == "channel" && len(channels) > 1:
	default:
		bad = "phone"
	}
	data["Bad"] = bad
	return p.render(c, http.StatusOK, "security-info-add-phone", data)
}

type pendingData struct {
	Pending  method.Pending `json:"p"`
	Register string         `json:"r,omitempty"`
	// Password: the account's password was checked when this began.
	Password bool `json:"pw,omitempty"`
	// Channel is the delivery the user chose ("sms", "voice"), so the
	// code step says how the code comes.
	Channel string `json:"c,omitempty"`
}

// channelKey carries the chosen delivery to renderAddStep.
const channelKey = "sspr.channel"

// addStep is what both steps of adding a method start with: the posted
// fields, the stepped-up user and the method the path names. A nil
// method with a nil error means the answer is written.
func (p *securityInfo) addStep(c echo.Context, fields ...string) (map[string]string, *access, method.Method, error) {
	in, err := form(c, fields...)
	if err != nil {
		return nil, nil, nil, err
	}
	a, err := p.steppedUp(c)
	if err != nil {
		return nil, nil, nil, done(err)
	}
	m, err := p.addMethod(c, a)
	if err != nil {
		return nil, nil, nil, err
	}
	return in, a, m, nil
}

func (p *securityInfo) addBegin(c echo.Context) error {
	ctx := c.Request().Context()
	in, a, m, err := p.addStep(c, "address", "register", "question.*", "answer.*", "phone", "country", "extension", "channel", fieldCurrentPassword)
	if m == nil || err != nil {
		return err
	}
	register := cleanAuthRequestID(in["register"])
	delete(in, "register")
	pw := in[fieldCurrentPassword]
	delete(in, fieldCurrentPassword)
	if a.askPassword {
		// Checked before anything is sent: a stolen session cannot even
		// have a code mailed to an address of its choosing.
		ok, msg, err := p.checkPassword(c, a.u, pw)
		if err != nil {
			return err
		}
		if !ok {
			c.Set(invalidFieldKey, fieldCurrentPassword)
			return p.renderAdd(c, m, msg, register, in)
		}
	}
	f := &flow.Flow{Purpose: flow.Register, UserID: a.u.ID, Subject: a.u.ID, SessionID: a.acct.SessionID}
	bind := p.bindToken(c)
	if err := p.flows.Create(ctx, f, bind); err != nil {
		return err
	}
	pend, err := m.Begin(ctx, f.ID, p.ref(a.u), method.Input(in))
	if err != nil {
		var ie *method.InvalidError
		if errors.As(err, &ie) {
			c.Set(invalidFieldKey, ie.Field)
			return p.renderAdd(c, m, ie.Reason(i18n.From(ctx)), register, in)
		}
		if errors.Is(err, method.ErrDuplicate) {
			return p.renderAdd(c, m, i18n.From(c.Request().Context()).T("securityinfo.error.duplicate"), register, in)
		}
		if msg, ok := sendProblem(i18n.From(c.Request().Context()), err); ok { // the gateway failed, a toll-fraud limit
			return p.renderAdd(c, m, msg, register, in)
		}
		return fmt.Errorf("plugin: add: %w", err)
	}
	c.Set(channelKey, in["channel"])
	b, err := json.Marshal(pendingData{Pending: pend, Register: register, Password: a.askPassword, Channel: in["channel"]})
	if err != nil {
		return fmt.Errorf("plugin: add: %w", err)
	}
	if err := p.proofs.Pending(ctx, f, m.Name(), pend.ChallengeID, p.d.Keys.Box("sspr-pending").Seal(b, []byte(f.ID))); err != nil {
		return flowErr(err)
	}
	if pend.Ready {
		return p.addComplete(c, a, m, f, pend, nil, register)
	}
	c.SetCookie(web.Cookie(bindCookie, bind, flow.TTL, p.secure))
	return p.renderAddStep(c, a, m, f.ID, pend.Prompt, "")
}

func (p *securityInfo) addFinish(c echo.Context) error {
	in, a, m, err := p.addStep(c, answerFields...)
	if m == nil || err != nil {
		return err
	}
	f, err := p.loadStep(c, flow.Register, flow.StepVerify)
	if err != nil {
		return err
	}
	if f.UserID != a.u.ID || f.SessionID != a.acct.SessionID || f.Data == nil {
		return flowErr(flow.ErrOutOfOrder)
	}
	b, err := p.d.Keys.Box("sspr-pending").Open(f.Data, []byte(f.ID))
	if err != nil {
		return flowErr(flow.ErrNotFound)
	}
	var pd pendingData
	if err := json.Unmarshal(b, &pd); err != nil || pd.Pending.Method != m.Name() {
		return flowErr(flow.ErrOutOfOrder)
	}
	c.Set(channelKey, pd.Channel)
	if a.askPassword && !pd.Password {
		// Begun under a step-up that has since ended (or before the
		// methods were deleted): the password was never asked.
		return p.renderAdd(c, m, i18n.From(c.Request().Context()).T("securityinfo.password.needed"), pd.Register, nil)
	}
	return p.addComplete(c, a, m, f, pd.Pending, method.Input(in), pd.Register)
}

func (p *securityInfo) addComplete(c echo.Context, a *access, m method.Method, f *flow.Flow, pend method.Pending, answer method.Input, register string) error {
	ctx := c.Request().Context()
	// The engine claims a try before the method sees the answer, and
	// moves the flow to done before the enrollment is stored.
	e, out, err := p.proofs.Confirm(ctx, f, m, p.ref(a.u), pend, answer)
	if err != nil {
		if errors.Is(err, method.ErrExpired) {
			return p.renderAdd(c, m, i18n.From(ctx).T("invalid.code.expired"), register, nil)
		}
		var ie *method.InvalidError
		if errors.As(err, &ie) {
			c.Set(invalidFieldKey, ie.Field)
			return p.renderAdd(c, m, ie.Reason(i18n.From(ctx)), register, nil)
		}
		return flowErr(fmt.Errorf("plugin: add: %w", err))
	}
	switch out.Verdict {
	case proof.Pending: // the new device has not answered yet
		return p.renderAddStep(c, a, m, f.ID, pend.Prompt, "")
	case proof.Blocked:
		return p.renderAdd(c, m, i18n.From(ctx).T("securityinfo.error.blocked"), register, nil)
	case proof.Wrong:
		return p.renderAddStep(c, a, m, f.ID, pend.Prompt, wrongAnswer(i18n.From(ctx), pend.Prompt.Kind))
	case proof.Ended:
		return p.renderAdd(c, m, i18n.From(ctx).T(idDead), register, nil)
	}
	pol, err := p.d.Policy.Get(ctx)
	if err != nil {
		return err
	}
	e.UserID = a.u.ID
	coolDown := pol.CoolDown()
	firstSession := ""
	if a.first {
		coolDown = 0 // the cool-down guards older methods; there are none
		firstSession = a.acct.SessionID
	}
	// Recorded before the method exists: from now on a method added to
	// this account cools down, whatever is deleted later.
	if err := p.markHadMethods(p.d.DB.WithContext(ctx), a.u.ID, firstSession); err != nil {
		return err
	}
	if err := p.d.Enrollments.Add(ctx, &e, coolDown); err != nil {
		if errors.Is(err, method.ErrDuplicate) {
			return p.renderAdd(c, m, i18n.From(ctx).T("securityinfo.error.duplicate"), register, nil)
		}
		return err
	}
	if err := p.record(c, audit.MethodAdded, a.u.ID, f.ID, audit.OK, string(e.Method)+" "+e.Label); err != nil {
		return err
	}
	if err := p.notifyOthers(c, a.u, noticeMethodAdded, note{Name: e.Method, Label: e.Label}); err != nil {
		return err
	}
	if register != "" {
		return see(c, p.path("/security-info/register/"+register+"?done=added"))
	}
	return see(c, p.path("/security-info?done=added"))
}

// notifyOthers mails a method change to the user's addresses.
func (p *securityInfo) notifyOthers(c echo.Context, u *user.User, kind notice, nd note) error {
	ctx := c.Request().Context()
	err := p.notes.notify(ctx, nil, c, u, kind, nd)
	p.d.Queue.Wake()
	return err
}

// --- forced registration and reconfirmation at sign-in ---

// userState is per-user SSPR state (sspr_user_state).
// The columns of accounts.go (HadMethods, FirstSessionID, ReportedAt) are
// written only there, never by saveState.
type userState struct {
	UserID         string     `gorm:"primaryKey;size:64"`
	Skips          int        `gorm:"not null"`
	ReconfirmedAt  *time.Time `gorm:"precision:6"`
	UpdatedAt      time.Time  `gorm:"precision:6;not null"`
	HadMethods     bool       `gorm:"not null"`
	FirstSessionID string     `gorm:"size:64;not null"`
	ReportedAt     *time.Time `gorm:"precision:6"`
}

func (userState) TableName() string { return "sspr_user_state" }

func (p *Plugin) state(tx *gorm.DB, userID string) (userState, error) {
	var s userState
	err := tx.Where("user_id = ?", userID).Take(&s).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return userState{UserID: userID}, nil
	}
	return s, err
}

func (p *Plugin) saveState(tx *gorm.DB, s userState) error {
	s.UpdatedAt = p.d.Now().UTC()
	return tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "user_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"skips", "reconfirmed_at", "updated_at"})}).Create(&s).Error
}

var _ AfterSignIn = (*Plugin)(nil)

// AfterSignIn implements the provider's hook: a user with fewer methods
// than the policy requires is sent to register (skippable MaxSkips times);
// one whose methods are older than ReconfirmDays is asked to confirm them.
func (p *Plugin) AfterSignIn(c echo.Context, userID, authRequestID string) (string, error) {
	ctx := c.Request().Context()
	pol, err := p.d.Policy.Get(ctx)
	if err != nil {
		return "", err
	}
	u, err := p.d.Users.ByID(ctx, userID)
	if err != nil {
		return "", err
	}
	if !p.appliesTo(ctx, pol, u) {
		return "", nil
	}
	ms, err := p.d.Enrollments.List(ctx, u.ID)
	if err != nil {
		return "", err
	}
	n := 0
	var oldest time.Time
	for _, e := range ms {
		if pol.Usable(string(e.Method), u.Admin) {
			n++
			if oldest.IsZero() || e.VerifiedAt.Before(oldest) {
				oldest = e.VerifiedAt
			}
		}
	}
	// By the recovery rules, cooling-down methods included: they will
	// count once their wait is over, so the user is not asked again.
	enough := p.standing(pol, u.Admin, ms, p.d.Now(), false).Enough
	need := !enough && pol.RegisterAtSignIn
	if u.RegisterAgainAt != nil {
		// An administrator required it: whatever the policy says, until
		// the user has enough methods again.
		if need = !enough; !need {
			if err := p.registeredAgain(ctx, u.ID); err != nil {
				return "", err
			}
		}
	}
	st, err := p.state(p.d.DB.WithContext(ctx), u.ID)
	if err != nil {
		return "", err
	}
	reconfirm := !need && n > 0 && pol.ReconfirmDays > 0 &&
		p.d.Now().Sub(oldest) > time.Duration(pol.ReconfirmDays)*24*time.Hour &&
		(st.ReconfirmedAt == nil || p.d.Now().Sub(*st.ReconfirmedAt) > time.Duration(pol.ReconfirmDays)*24*time.Hour)
	if !need && !reconfirm {
		return "", nil
	}
	f := &flow.Flow{Purpose: flow.Register, UserID: u.ID, Subject: u.ID, AuthRequestID: authRequestID,
		State: flow.Identified}
	if reconfirm {
		f.Intent = "reconfirm"
	}
	bind := p.bindToken(c)
	if err := p.flows.Create(ctx, f, bind); err != nil {
		return "", err
	}
	c.SetCookie(web.Cookie(bindCookie, bind, flow.TTL, p.secure))
	return p.path("/security-info/register/" + f.ID), nil
}

func (p *registration) registerFlow(c echo.Context) (*flow.Flow, *access, error) {
	a, err := p.guard(c)
	if err != nil {
		return nil, nil, err
	}
	f, err := p.loadStep(c, flow.Register, flow.StepRegister)
	if err != nil {
		return nil, nil, err
	}
	if f.UserID != a.u.ID {
		return nil, nil, flowErr(flow.ErrOutOfOrder)
	}
	return f, a, nil
}

func (p *registration) registerPage(c echo.Context) error {
	ctx := c.Request().Context()
	f, a, err := p.registerFlow(c)
	if err != nil {
		return done(err)
	}
	pol, err := p.d.Policy.Get(ctx)
	if err != nil {
		return err
	}
	st, err := p.state(p.d.DB.WithContext(ctx), a.u.ID)
	if err != nil {
		return err
	}
	now := p.d.Now()
	st2 := p.standing(pol, a.u.Admin, a.methods, now, true)
	later := p.standing(pol, a.u.Admin, a.methods, now, false)
	return p.render(c, http.StatusOK, "security-info-register", map[string]any{
		"Flow": f.ID, "Reconfirm": f.Intent == "reconfirm", "Have": st2.Counted, "Need": st2.Needed,
		"Enough": later.Enough, "Standing": st2, "Later": later.Counted - st2.Counted,
		"QuestionsOffered": slices.Contains(p.addable(pol, a.u), method.Questions),
		"Add":              p.addKinds(i18n.From(c.Request().Context()), pol, a.u), "CanAdd": a.ok, "Methods": p.rows(i18n.From(ctx), a.methods, now),
		"Notice":    doneNotice(i18n.From(ctx), c.QueryParam("done")),
		"SkipsLeft": pol.MaxSkips - st.Skips, "CanSkip": st.Skips < pol.MaxSkips && a.u.RegisterAgainAt == nil,
	})
}

// registerStep is what a registration's buttons start with: the posted
// form, the flow of this signed-in user, the policy. A nil flow with a
// nil error means the answer is written.
func (p *registration) registerStep(c echo.Context) (*flow.Flow, *access, policy.Policy, error) {
	if _, err := form(c); err != nil {
		return nil, nil, policy.Policy{}, err
	}
	f, a, err := p.registerFlow(c)
	if err != nil {
		return nil, nil, policy.Policy{}, done(err)
	}
	pol, err := p.d.Policy.Get(c.Request().Context())
	return f, a, pol, err
}

func (p *registration) skip(c echo.Context) error {
	ctx := c.Request().Context()
	f, a, pol, err := p.registerStep(c)
	if f == nil || err != nil {
		return err
	}
	err = db.Transact(ctx, p.d.DB, "registration.skip", func(tx *gorm.DB) error {
		st, err := p.state(tx, a.u.ID)
		if err != nil {
			return err
		}
		if f.Intent != "reconfirm" {
			if st.Skips >= pol.MaxSkips || a.u.RegisterAgainAt != nil {
				return flow.ErrOutOfOrder
			}
			st.Skips++
		}
		if err := p.saveState(tx, st); err != nil {
			return err
		}
		// In the transaction: a skip is never counted unrecorded.
		return p.d.Audit.RecordTx(tx, p.event(c, "registration.skipped", a.u.ID, f.ID, audit.OK, ""))
	})
	if err != nil {
		return flowErr(err)
	}
	return p.finishRegister(c, f)
}

// continueToApp ends a registration (enough methods) or a reconfirmation.
func (p *registration) continueToApp(c echo.Context) error {
	ctx := c.Request().Context()
	f, a, pol, err := p.registerStep(c)
	if f == nil || err != nil {
		return err
	}
	enough := p.standing(pol, a.u.Admin, a.methods, p.d.Now(), false).Enough
	if !enough && (pol.RegisterAtSignIn || a.u.RegisterAgainAt != nil) && f.Intent != "reconfirm" {
		return see(c, p.path("/security-info/register/"+f.ID))
	}
	if enough && a.u.RegisterAgainAt != nil {
		if err := p.registeredAgain(ctx, a.u.ID); err != nil {
			return err
		}
	}
	now := p.d.Now().UTC()
	if err := p.saveState(p.d.DB.WithContext(ctx), userState{UserID: a.u.ID, ReconfirmedAt: &now}); err != nil {
		return err
	}
	if f.Intent == "reconfirm" {
		if err := p.d.Enrollments.Reconfirm(ctx, a.u.ID); err != nil {
			return err
		}
		if err := p.record(c, "methods.reconfirmed", a.u.ID, f.ID, audit.OK, ""); err != nil {
			return err
		}
	}
	return p.finishRegister(c, f)
}

// finishRegister returns the browser to the app through the provider (the
// target comes from the server-side request, never from a parameter).
func (p *registration) finishRegister(c echo.Context, f *flow.Flow) error {
	if err := p.proofs.Conclude(c.Request().Context(), f); err != nil {
		return flowErr(err)
	}
	if f.AuthRequestID == "" {
		return see(c, p.path("/security-info"))
	}
	to, err := p.d.SignIn.ContinueURL(c, f.AuthRequestID)
	if err != nil {
		return err
	}
	return see(c, to)
}

// reconfirm is the button on /security-info that confirms the methods.
func (p *securityInfo) reconfirm(c echo.Context) error {
	if _, err := form(c); err != nil {
		return err
	}
	a, err := p.steppedUp(c)
	if err != nil {
		return done(err)
	}
	if err := p.d.Enrollments.Reconfirm(c.Request().Context(), a.u.ID); err != nil {
		return err
	}
	if err := p.record(c, "methods.reconfirmed", a.u.ID, "", audit.OK, "security info"); err != nil {
		return err
	}
	return see(c, p.path("/security-info?done=confirmed"))
}
