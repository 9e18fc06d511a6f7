package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// bindCookie binds flows to the browser that started them.
const bindCookie = "lk_flow"

// authRequestIDs are opaque ids of the provider; anything else is dropped.
var authRequestIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,190}$`)

func cleanAuthRequestID(s string) string {
	if authRequestIDPattern.MatchString(s) {
		return s
	}
	return ""
}

// captchaFields are the fields any CAPTCHA kind may post.
var captchaFields = []string{"captcha", "captcha_id", "h-captcha-response", "g-recaptcha-response", "cf-turnstile-response"}

// render writes page with data plus the fields every page needs.
func (p *Plugin) render(c echo.Context, status int, page string, data map[string]any) error {
	if data == nil {
		data = map[string]any{}
	}
	data["CSRF"] = web.CSRFToken(c)
	if id, ok := data["AuthRequestID"].(string); ok {
		p.hintLanguage(c, id)
	}
	if _, ok := data["Helpdesk"]; !ok {
		if pol, err := p.d.Policy.Get(c.Request().Context()); err == nil {
			data["Helpdesk"] = pol.HelpdeskURL
		}
	}
	if _, ok := data["Help"]; !ok {
		raw, _ := data["Helpdesk"].(string)
		data["Help"] = helpOf(raw)
	}
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return p.d.Renderer.Render(c.Response(), c.Request(), page, data)
}

// see answers a POST with 303 See Other (never 307: the browser must not
// re-post credentials to the next page).
func see(c echo.Context, to string) error { return c.Redirect(http.StatusSeeOther, to) }

// record writes an audit event with the request's IP and user agent.
// Auditing failures fail the request: a reset must not happen unrecorded.
func (p *Plugin) record(c echo.Context, typ, userID, flowID, outcome, detail string) error {
	if userID == "" {
		userID = "unknown"
	}
	return p.d.Audit.Record(c.Request().Context(), audit.Event{
		Type: typ, UserID: userID, FlowID: flowID, IP: c.RealIP(), UserAgent: c.Request().UserAgent(),
		Outcome: outcome, Detail: detail,
	})
}

func (p *Plugin) event(c echo.Context, typ, userID, flowID, outcome, detail string) audit.Event {
	if userID == "" {
		userID = "unknown"
	}
	return audit.Event{Type: typ, UserID: userID, FlowID: flowID, IP: c.RealIP(), UserAgent: c.Request().UserAgent(),
		Outcome: outcome, Detail: detail}
}

// --- start ---

// cleanReason keeps the sign-in page's hint ("forgot" or "unlock"), which
// only preselects the choice page.
func cleanReason(s string) string {
	if s == "forgot" || s == "unlock" {
		return s
	}
	return ""
}

// start is POST /recover. Every name (real, unknown, disabled, locked,
// without methods, not enabled) takes this one path and gets the same
// answer: a new flow, the binding cookie, 303 to the choice page.
func (p *recovery) start(c echo.Context) error {
	ctx := c.Request().Context()
	f, err := form(c, append([]string{"username", "authRequestID", "reason", "form", "captcha_action"}, captchaFields...)...)
	if err != nil {
		return err
	}
	authReq := cleanAuthRequestID(f["authRequestID"])
	reason := cleanReason(f["reason"])
	login := strings.TrimSpace(f["username"])
	if len(login) > 254 {
		login = ""
	}
	if f["captcha_action"] == "new" {
		// "New picture": a new CAPTCHA, the typed name kept.
		return p.seeStart(c, authReq, reason, login, "")
	}
	if ok, err := p.captchaAllowed(c); err != nil || !ok {
		if err != nil {
			return err
		}
		return p.seeStart(c, authReq, reason, login, "busy")
	}
	ok, err := p.d.Captcha.Verify(ctx, f["form"], c.Request().PostForm, c.RealIP())
	if err != nil {
		return fmt.Errorf("plugin: captcha: %w", err)
	}
	if !ok {
		// The funnel's first step: a start that never became a flow. No
		// name is looked up or kept, so the event is the same for every name.
		if err := p.record(c, audit.CaptchaFailed, "", "", audit.Fail, ""); err != nil {
			return err
		}
		return p.seeStart(c, authReq, reason, login, "captcha")
	}
	if login == "" {
		return p.seeStart(c, authReq, reason, login, "username")
	}
	pol, err := p.d.Policy.Get(ctx)
	if err != nil {
		return err
	}
	fl := &flow.Flow{Purpose: flow.Recover, AuthRequestID: authReq}
	// Every name does the same work from here: one lookup with its
	// groups query, one enrollment query, one decoy draw, one seal.
	id := p.identityOf(ctx, login)
	u, err := p.d.Users.ByLogin(ctx, login)
	lookup, admin := id.key, false
	switch {
	case err == nil && !u.Disabled:
		lookup, admin = u.ID, u.Admin
	case err == nil:
		// disabled: a decoy (its groups were read by the lookup)
	case errors.Is(err, user.ErrNotFound):
		if _, err := p.d.Users.Groups(ctx, id.key); err != nil {
			return fmt.Errorf("plugin: start: %w", err)
		}
	default:
		return fmt.Errorf("plugin: start: %w", err)
	}
	usable, err := p.usable(ctx, lookup, admin, pol, nil)
	if err != nil {
		return err
	}
	list, err := p.drawDecoy(ctx, login, id, pol)
	if err != nil {
		return err
	}
	data := flowData{Login: login}
	if lookup != id.key && len(usable) > 0 {
		fl.UserID, fl.Subject = u.ID, u.ID
	} else {
		// The decoy keeps its list, sealed, so every later page of the
		// flow shows the same one.
		fl.Decoy, fl.Subject, data.Decoy = true, id.key, list
	}
	fl.Data = p.sealFlowData(data)
	switch reason { // a preselection only; the choice page still asks
	case "forgot":
		fl.Intent = flow.Reset
	case "unlock":
		fl.Intent = flow.Unlock
	}
	bind := p.bindToken(c)
	if err := p.flows.Create(ctx, fl, bind); err != nil {
		return err
	}
	detail := "real"
	if fl.Decoy {
		detail = "decoy"
	}
	if err := p.record(c, audit.RecoveryStart, fl.UserID, fl.ID, audit.OK, detail); err != nil {
		return err
	}
	c.SetCookie(web.Cookie(bindCookie, bind, flow.TTL, p.secure))
	return see(c, p.path("/recover/"+fl.ID))
}

// bindToken is the browser's binding token: the one it holds (so several
// flows of one browser, e.g. a registration inside a forced-registration
// flow, stay bound) or a new one. It is set again on every flow start, so
// every start answers with the same cookie.
func (p *Plugin) bindToken(c echo.Context) string {
	if v := web.CookieValue(c.Request(), bindCookie, p.secure); len(v) == 26 && strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == "" {
		return v
	}
	return flow.NewBindToken()
}

// load reads the flow named in the path for this browser.
func (p *Plugin) load(c echo.Context, purpose flow.Purpose) (*flow.Flow, error) {
	f, err := p.flows.Get(c.Request().Context(), c.Param("flow"), web.CookieValue(c.Request(), bindCookie, p.secure), purpose)
	if errors.Is(err, flow.ErrExpired) && purpose == flow.Recover {
		// A report ends the user's flows; one that had a proof says why.
		if rerr := p.refuseReportedProven(c, f); rerr != nil {
			return nil, rerr
		}
	}
	if err != nil {
		return nil, p.flowErrFor(f, err)
	}
	p.hintLanguage(c, f.AuthRequestID)
	return f, nil
}

// flowAt is the request's recovery flow when it may take step now, and
// the account was not reported since the flow's proofs.
func (p *recovery) flowAt(c echo.Context, step flow.Step) (*flow.Flow, error) {
	f, err := p.load(c, flow.Recover)
	if err != nil {
		return nil, err
	}
	if err := f.Allow(step, p.flows.Now()); err != nil {
		return nil, flowErr(err)
	}
	if err := p.refuseReportedProven(c, f); err != nil {
		return nil, err
	}
	return f, nil
}

// flowErrFor is flowErr for a flow of this browser that could be read (an
// expired one): "Start again" keeps its pending application.
func (p *Plugin) flowErrFor(f *flow.Flow, err error) error {
	out := flowErr(err)
	if pe, ok := out.(*web.PageError); ok && f != nil && f.AuthRequestID != "" {
		pe.Link = p.againURL(f.AuthRequestID)
	}
	return out
}

// subjectOf returns the user behind a flow (nil for a decoy) and the
// method.Ref the methods act for.
func (p *recovery) subjectOf(ctx context.Context, f *flow.Flow) (*user.User, method.Ref, error) {
	u, ref, _, err := p.subject(ctx, f)
	return u, ref, err
}

// subject is subjectOf with the flow's sealed data. A decoy runs the
// queries a real flow runs (the user and its groups, by the decoy key,
// finding nothing) and both open the flow's data.
func (p *recovery) subject(ctx context.Context, f *flow.Flow) (*user.User, method.Ref, flowData, error) {
	d, derr := p.openFlowData(f.Data)
	if f.Decoy {
		if _, err := p.d.Users.ByID(ctx, f.Subject); err != nil && !errors.Is(err, user.ErrNotFound) {
			return nil, method.Ref{}, d, err
		}
		if _, err := p.d.Users.Groups(ctx, f.Subject); err != nil {
			return nil, method.Ref{}, d, err
		}
		if derr != nil {
			// A decoy flow whose data cannot be opened (sealed by an older
			// version, or under another secret) ends as any dead flow does.
			return nil, method.Ref{}, d, flowErr(fmt.Errorf("plugin: decoy: %w: %w", flow.ErrNotFound, derr))
		}
		return nil, method.Ref{ID: f.Subject, Username: d.Login, Decoy: true}, d, nil
	}
	u, err := p.d.Users.ByID(ctx, f.UserID)
	if err != nil {
		if errors.Is(err, user.ErrNotFound) {
			return nil, method.Ref{}, d, flowErr(flow.ErrNotFound)
		}
		return nil, method.Ref{}, d, err
	}
	return u, p.ref(u), d, nil
}

func (p *Plugin) ref(u *user.User) method.Ref {
	return method.Ref{ID: u.ID, Username: u.Username, Email: u.Email, Forbidden: []string{u.Username, u.Email},
		IsPassword: func(ctx context.Context, candidate string) (bool, error) {
			return p.d.Users.CheckPassword(ctx, u.ID, candidate)
		}}
}

// options lists the enrollments a flow may verify now: registered, proven,
// past their cool-down, enabled by the policy (no questions for admins),
// not yet verified in this flow.
func (p *recovery) options(ctx context.Context, u *user.User, pol policy.Policy, f *flow.Flow) ([]method.Enrollment, error) {
	return p.usable(ctx, u.ID, u.Admin, pol, f)
}

// usable is options for the enrollments stored under id (a user id, or a
// decoy key, which has none but costs the same query).
func (p *recovery) usable(ctx context.Context, id string, admin bool, pol policy.Policy, f *flow.Flow) ([]method.Enrollment, error) {
	var names []string
	for _, m := range p.d.Methods.Enabled(pol.Methods) {
		if pol.Usable(string(m.Name()), admin) {
			names = append(names, string(m.Name()))
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	all, err := p.d.Enrollments.Usable(ctx, id, names...)
	if err != nil {
		return nil, err
	}
	var out []method.Enrollment
	for _, e := range all {
		if f == nil || !f.HasProof(e.ID) {
			out = append(out, e)
		}
	}
	return out, nil
}

// flowOptions is options for a real flow, the sealed decoy list for a
// decoy (after the same enrollment query).
func (p *recovery) flowOptions(ctx context.Context, f *flow.Flow, u *user.User, d flowData, pol policy.Policy) ([]method.Enrollment, error) {
	if !f.Decoy {
		return p.options(ctx, u, pol, f)
	}
	if _, err := p.usable(ctx, f.Subject, false, pol, f); err != nil {
		return nil, err
	}
	var out []method.Enrollment
	for _, e := range decoyEnrollments(f, d) {
		if !f.HasProof(e.ID) {
			out = append(out, e)
		}
	}
	return out, nil
}

// listFor is the method list of a flow now.
func (p *recovery) listFor(ctx context.Context, f *flow.Flow, pol policy.Policy) ([]method.Enrollment, *user.User, method.Ref, error) {
	u, ref, d, err := p.subject(ctx, f)
	if err != nil {
		return nil, nil, ref, err
	}
	opts, err := p.flowOptions(ctx, f, u, d, pol)
	return opts, u, ref, err
}

// --- intent ---

func (p *recovery) intentPage(c echo.Context) error {
	f, err := p.load(c, flow.Recover)
	if err != nil {
		return err
	}
	if err := f.Allow(flow.StepIntent, p.flows.Now()); err != nil {
		return flowErr(err)
	}
	pol, err := p.d.Policy.Get(c.Request().Context())
	if err != nil {
		return err
	}
	d, err := p.openFlowData(f.Data)
	if err != nil {
		return flowErr(fmt.Errorf("plugin: intent: %w: %w", flow.ErrNotFound, err))
	}
	return p.render(c, http.StatusOK, "recover-intent", map[string]any{
		"Flow": f.ID, "Unlock": f.Intent == flow.Unlock,
		"Step": stepView{N: 2, M: recoverySteps(pol.Required, f.Intent)},
		"Back": p.startBackURL(c, f, d.Login), "Cancel": p.cancelURL(f.AuthRequestID),
	})
}

func (p *recovery) chooseIntent(c echo.Context) error {
	in, err := form(c, "intent")
	if err != nil {
		return err
	}
	f, err := p.load(c, flow.Recover)
	if err != nil {
		return err
	}
	intent := flow.Intent(in["intent"])
	if intent != flow.Reset && intent != flow.Unlock {
		return errBadForm
	}
	if err := f.ChooseIntent(intent, p.flows.Now()); err != nil {
		return flowErr(err)
	}
	if err := p.flows.Save(c.Request().Context(), nil, f); err != nil {
		return flowErr(err)
	}
	if err := p.record(c, "recovery.intent", f.UserID, f.ID, audit.OK, string(intent)); err != nil {
		return err
	}
	if err := p.recordMethods(c, f); err != nil {
		return err
	}
	return see(c, p.path("/recover/"+f.ID+"/method"))
}

// --- method choice ---

// optionView is one row of a method list. Value is what the row posts as
// "enrollment": the enrollment id, and for a phone ":sms" or ":voice".
type optionView struct {
	ID, Method, Label, Title, Value string
	// Masked: Label is a masked address or number, worth showing so the
	// user knows where the code goes.
	Masked bool
}

// channeler is the optional interface of methods that deliver over one or
// more channels the user picks (phones: "sms", "voice").
type channeler interface {
	Channels() []sender.Channel
}

// choices lists the rows of the method and step-up pages, the
// authenticator app first (by each method's Rank): one per enrollment, or, as in
// Entra, one per delivery of a phone ("Text my mobile phone", "Call my
// mobile phone").
func (p *Plugin) choices(l *i18n.Localizer, es []method.Enrollment) []optionView {
	es = slices.Clone(es)
	slices.SortStableFunc(es, func(x, y method.Enrollment) int { return p.info(x.Method).Rank - p.info(y.Method).Rank })
	var out []optionView
	for _, e := range es {
		info := p.info(e.Method)
		v := optionView{ID: e.ID, Method: string(e.Method), Label: e.Label, Value: e.ID, Title: p.rowTitle(l, e.Method, ""),
			Masked: info.Masked}
		var chans []sender.Channel
		if c, ok := p.method(e.Method).(channeler); ok {
			chans = c.Channels()
		}
		if len(chans) == 0 {
			out = append(out, v)
			continue
		}
		for _, ch := range chans {
			v.Value, v.Title = e.ID+":"+string(ch), p.rowTitle(l, e.Method, string(ch))
			out = append(out, v)
		}
	}
	return out
}

// method is the registry's method n, nil when not available.
// info is how method n presents itself; a method this instance lacks (its
// sender is not configured here) keeps its name and sorts last.
func (p *Plugin) info(n method.Name) method.Info {
	if m, ok := p.d.Methods.Get(n); ok {
		return m.Describe()
	}
	return method.Info{Rank: 1 << 20, AddTitle: string(n), Titles: map[string]string{"": string(n)}}
}

func (p *Plugin) method(n method.Name) method.Method {
	m, _ := p.d.Methods.Get(n)
	return m
}

// splitChoice reads a posted row: "ID" or "ID:channel". A separate
// "channel" field (older pages) still counts when the row names none.
func splitChoice(in map[string]string) (id, channel string) {
	id, channel, _ = strings.Cut(in["enrollment"], ":")
	if channel == "" {
		channel = in["channel"]
	}
	return id, channel
}

func (p *recovery) methodPage(c echo.Context) error {
	f, err := p.flowAt(c, flow.StepChoose)
	if err != nil {
		return err
	}
	if ok, err := p.pageAllowed(c, f); err != nil || !ok {
		if err != nil {
			return err
		}
		return p.render(c, http.StatusTooManyRequests, "recover-message", map[string]any{"Title": tr(c, "recover.message.busy.title"),
			"Message": tr(c, "recover.message.busy.text")})
	}
	return p.renderMethods(c, f, "")
}

// recordMethods audits the list a flow offers, once: when the flow
// reaches the choice (a reload of the page writes nothing).
func (p *recovery) recordMethods(c echo.Context, f *flow.Flow) error {
	pol, err := p.d.Policy.Get(c.Request().Context())
	if err != nil {
		return err
	}
	opts, _, _, err := p.listFor(c.Request().Context(), f, pol)
	if err != nil {
		return err
	}
	shown := make([]string, len(opts))
	for i, e := range opts {
		shown[i] = string(e.Method)
	}
	return p.record(c, "recovery.methods", f.UserID, f.ID, audit.OK, strings.Join(shown, ","))
}

// renderMethods shows the method list; msg is a message ID ("" for none).
func (p *recovery) renderMethods(c echo.Context, f *flow.Flow, msg string) error {
	ctx := c.Request().Context()
	pol, err := p.d.Policy.Get(ctx)
	if err != nil {
		return err
	}
	u, _, d, err := p.subject(ctx, f)
	if err != nil {
		return err
	}
	opts, err := p.flowOptions(ctx, f, u, d, pol)
	if err != nil {
		return err
	}
	var need needView
	if len(f.Proofs) == 0 {
		need = p.needBefore(pol, opts)
	} else if need, err = p.needAfter(ctx, pol, u, f); err != nil {
		return err
	}
	if len(opts) == 0 {
		// Only reachable after a proof (a flow starts with at least one
		// option), so saying it reveals nothing to a stranger.
		return p.render(c, http.StatusOK, "recover-message", map[string]any{
			"Title": tr(c, "recover.message.short.title"), "Need": need, "Stuck": true,
			"Message": tr(c, "recover.message.short.text"),
			"Cancel":  p.cancelURL(f.AuthRequestID),
		})
	}
	data := map[string]any{
		"Flow": f.ID, "Options": p.choices(i18n.From(ctx), opts), "Error": tr(c, msg), "Second": len(f.Proofs) > 0, "Need": need,
		"Step": proofStep(pol, f), "Cancel": p.cancelURL(f.AuthRequestID),
	}
	if len(f.Proofs) == 0 {
		// The typed name, for the person who mistyped it: real and decoy
		// lists say it alike.
		data["Login"], data["Again"] = d.Login, p.againURL(f.AuthRequestID)
		data["Back"] = p.path("/recover/" + f.ID)
	}
	return p.render(c, http.StatusOK, "recover-method", data)
}

// message renders a plain message page (200): blocked, cannot recover.
func (p *Plugin) message(c echo.Context, title, text string) error {
	return p.render(c, http.StatusOK, "recover-message", map[string]any{"Title": title, "Message": text})
}

// blocked reports whether the flow's subject may not try proofs now (the
// proof engine decides from the failure records, and audits it).
func (p *Plugin) blocked(c echo.Context, f *flow.Flow) (bool, error) {
	return p.proofs.Blocked(c.Request().Context(), f)
}

// stopIfBlocked answers the request itself when the flow's subject is
// blocked (the "paused" page) or the check failed; stop tells the handler
// to return err as is.
func (p *Plugin) stopIfBlocked(c echo.Context, f *flow.Flow) (stop bool, err error) {
	b, err := p.blocked(c, f)
	if err != nil {
		return true, err
	}
	if !b {
		return false, nil
	}
	return true, p.paused(c)
}

func (p *recovery) chooseMethod(c echo.Context) error {
	ctx := c.Request().Context()
	in, err := form(c, "enrollment", "channel")
	if err != nil {
		return err
	}
	f, err := p.flowAt(c, flow.StepChoose)
	if err != nil {
		return err
	}
	if stop, err := p.stopIfBlocked(c, f); stop {
		return err
	}
	pol, err := p.d.Policy.Get(ctx)
	if err != nil {
		return err
	}
	opts, _, ref, err := p.listFor(ctx, f, pol)
	if err != nil {
		return err
	}
	id, channel := splitChoice(in)
	var e *method.Enrollment
	for i := range opts {
		if opts[i].ID == id {
			e = &opts[i]
		}
	}
	if e == nil {
		return p.renderMethods(c, f, idChooseOne)
	}
	m, ok := p.d.Methods.Get(e.Method)
	if !ok {
		return p.renderMethods(c, f, idUnavailable)
	}
	if ok, err := p.sendAllowed(c); err != nil || !ok {
		if err != nil {
			return err
		}
		return p.renderMethods(c, f, idTooMany)
	}
	if _, err := p.proofs.Issue(p.withApp(ctx, f.AuthRequestID), f, m, ref, *e, channel); err != nil {
		if id, ok := sendProblemID(err); ok {
			return p.renderMethods(c, f, id)
		}
		return flowErr(fmt.Errorf("plugin: challenge: %w", err))
	}
	if err := p.record(c, audit.CodeSent, f.UserID, f.ID, audit.OK, string(e.Method)+" "+e.Label); err != nil {
		return err
	}
	return see(c, p.path("/recover/"+f.ID+"/verify"))
}

// issueProblem words a failed challenge: a send problem the user can act
// on goes to page, a flow error is the generic flow page.
func (p *Plugin) issueProblem(c echo.Context, err error, page func(msg string) error) error {
	if msg, ok := sendProblem(i18n.From(c.Request().Context()), err); ok {
		return page(msg)
	}
	return flowErr(fmt.Errorf("plugin: challenge: %w", err))
}

func (p *Plugin) openChallenge(f *flow.Flow) (method.Challenge, error) {
	return p.proofs.Challenge(f)
}
