package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/admin"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/plugin/report"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// The policy form's settings by kind, as the API names them.
var (
	policyNumbers      = names(policyNumberFields)
	policyNumberFields = []field{{"required", "consoleops.policy.required"},
		{"questions_register", "consoleops.policy.questions_register"}, {"questions_ask", "consoleops.policy.questions_ask"},
		{"max_skips", "consoleops.policy.max_skips"}, {"reconfirm_days", "consoleops.policy.reconfirm_days"},
		{"cooldown_hours", "consoleops.policy.cooldown_hours"},
		{"push_report_block_minutes", "consoleops.policy.push_report_block_minutes"}}
	policySwitches     = names(policySwitchFields)
	policySwitchFields = []field{{"register_at_signin", "consoleops.policy.register_at_signin"},
		{"require_signin_after_reset", "consoleops.policy.require_signin_after_reset"},
		{"notify_user", "consoleops.policy.notify_user"}, {"notify_admins", "consoleops.policy.notify_admins"}}
	policyScopes = []field{{string(policy.ScopeAll), "consoleops.policy.scope_all"},
		{string(policy.ScopeGroup), "consoleops.policy.scope_group"}, {string(policy.ScopeNone), "consoleops.policy.scope_none"}}
)

// field is a form field or choice and its label's message ID (a hint's,
// when it has one).
type field struct{ Name, Label string }

func names(fs []field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

// policyForm is the policy page's values as typed, so a refused form
// comes back as it was sent.
type policyForm struct {
	ETag     string
	Scope    string
	Group    string
	Methods  map[string]bool
	Numbers  map[string]string
	Switches map[string]bool
	Helpdesk string
	Phones   string // calling regions, comma or space separated
}

func policyFormOf(v admin.PolicyView, etag string) policyForm {
	p := v.Policy
	f := policyForm{ETag: etag, Scope: string(p.Scope), Group: p.Group, Methods: map[string]bool{},
		Helpdesk: p.HelpdeskURL, Phones: strings.Join(p.PhoneCountries, ", ")}
	for _, m := range p.Methods {
		f.Methods[m] = true
	}
	f.Numbers = map[string]string{}
	for i, n := range []int{p.Required, p.QuestionsRegister, p.QuestionsAsk, p.MaxSkips, p.ReconfirmDays,
		p.CoolDownHours, p.PushReportBlockMinutes} {
		f.Numbers[policyNumbers[i]] = strconv.Itoa(n)
	}
	f.Switches = map[string]bool{"register_at_signin": p.RegisterAtSignIn, "require_signin_after_reset": p.RequireSignInAfterReset,
		"notify_user": p.NotifyUser, "notify_admins": p.NotifyAdmins}
	return f
}

func readPolicyForm(c echo.Context) policyForm {
	r := c.Request()
	f := policyForm{ETag: r.PostFormValue("etag"), Scope: r.PostFormValue("scope"), Group: strings.TrimSpace(r.PostFormValue("group")),
		Methods: map[string]bool{}, Numbers: map[string]string{}, Switches: map[string]bool{},
		Helpdesk: strings.TrimSpace(r.PostFormValue("helpdesk_url")), Phones: r.PostFormValue("phone_countries")}
	for _, m := range r.PostForm["methods"] {
		f.Methods[m] = true
	}
	for _, k := range policyNumbers {
		f.Numbers[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	for _, k := range policySwitches {
		f.Switches[k] = r.PostFormValue(k) == "true"
	}
	return f
}

// change is the form as a merge patch of every setting. A number that
// does not parse goes as the text typed, so the API names it with every
// other problem.
func (f policyForm) change() map[string]any {
	methods := []string{}
	for _, m := range policy.Known {
		if f.Methods[m] {
			methods = append(methods, m)
		}
	}
	phones := strings.FieldsFunc(f.Phones, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' })
	if phones == nil {
		phones = []string{}
	}
	out := map[string]any{"scope": f.Scope, "group": f.Group, "methods": methods, "helpdesk_url": f.Helpdesk,
		"phone_countries": phones}
	for _, k := range policyNumbers {
		if n, err := strconv.Atoi(f.Numbers[k]); err == nil {
			out[k] = n
		} else {
			out[k] = f.Numbers[k]
		}
	}
	for _, k := range policySwitches {
		out[k] = f.Switches[k]
	}
	return out
}

// policyMethod is a method's switch as the page shows it.
type policyMethod struct {
	admin.MethodSwitch
	Label string
}

func (k *Console) renderPolicy(c echo.Context, s *session, status int, v admin.PolicyView, f policyForm, p *problems, notice string) error {
	shown := append(append([]string{"scope", "group", "methods", "helpdesk_url", "phone_countries"}, policyNumbers...), policySwitches...)
	l := i18n.From(c.Request().Context())
	var methods []policyMethod
	for _, m := range v.MethodSwitches {
		methods = append(methods, policyMethod{m, report.MethodName(l, m.Method)})
	}
	return k.render(c, status, "admin-policy", s, map[string]any{"Section": "policy", "View": v, "Form": f, "Methods": methods,
		"Problems": p.claim(shown...), "Numbers": policyNumberFields, "Switches": policySwitchFields, "Scopes": policyScopes,
		"Notice": notice, "Action": Path + "/policy", "NewQuestion": Path + "/policy/questions/new"})
}

func (k *Console) readPolicy(c echo.Context, s *session) (admin.PolicyView, string, error) {
	var v admin.PolicyView
	var etag string
	_, err := k.api.do(c.Request().Context(), s, call{method: http.MethodGet, path: "/policy", out: &v, etag: &etag})
	return v, etag, err
}

func (k *Console) policyShow(c echo.Context, s *session) error {
	v, etag, err := k.readPolicy(c, s)
	if err != nil {
		return err
	}
	notice := ""
	if done := c.QueryParam("done"); policyNotices[done] != "" {
		notice = tr(c, policyNotices[done])
	}
	return k.renderPolicy(c, s, http.StatusOK, v, policyFormOf(v, etag), nil, notice)
}

// policyNotices are the policy page's notices after a change, by the
// "done" its link carries.
var policyNotices = map[string]string{"saved": "consoleops.policy.saved", "question_added": "consoleops.question.added",
	"question_saved": "consoleops.question.saved", "question_removed": "consoleops.question.removed"}

// pageETag: e is an ETag as GET /policy gives it, one quoted version.
func pageETag(e string) bool {
	return len(e) > 2 && len(e) <= 100 && e[0] == '"' && e[len(e)-1] == '"' &&
		!strings.ContainsFunc(e[1:len(e)-1], func(r rune) bool { return r < 0x21 || r > 0x7e || r == '"' })
}

func (k *Console) policySave(c echo.Context, s *session) error {
	f := readPolicyForm(c)
	if !pageETag(f.ETag) {
		f.ETag = `"-"` // a form without the page's version (or a forged one, or "*") is stale by definition
	}
	p, err := k.api.do(c.Request().Context(), s, call{method: http.MethodPatch, path: "/policy",
		idem: c.Request().PostFormValue("idem"), ifMatch: f.ETag, in: f.change()})
	if err != nil {
		return err
	}
	if p == nil {
		return see(c, Path+"/policy?done=saved")
	}
	v, etag, err := k.readPolicy(c, s)
	if err != nil {
		return err
	}
	if p.Stale {
		// Someone else saved meanwhile: show their policy and say so;
		// the typed values would silently undo their change.
		p = &problems{Detail: tr(c, "consoleops.policy.stale"), Fields: map[string][]string{}}
		return k.renderPolicy(c, s, http.StatusConflict, v, policyFormOf(v, etag), p, "")
	}
	return k.renderPolicy(c, s, http.StatusBadRequest, v, f, p, "")
}
