package policy

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Scope says which users may use self-service reset.
type Scope string

const (
	ScopeNone  Scope = "none"
	ScopeGroup Scope = "group"
	ScopeAll   Scope = "all"
)

// Method names the policy knows. They match plugin/method.Name values; the
// policy keeps plain strings so it depends on nothing.
const (
	Email          = "email"
	TOTP           = "totp"
	Questions      = "questions"
	Mobile         = "mobile"
	AlternatePhone = "alternate-phone"
	OfficePhone    = "office-phone"
	Push           = "push"
)

// Known lists every method name a policy may enable, in display order.
var Known = []string{TOTP, Push, Mobile, AlternatePhone, OfficePhone, Email, Questions}

// Limits from the issue (questions: Entra's 3-5 registered, 1-5 asked).
const (
	MinQuestionsRegister = 3
	MaxQuestionsRegister = 5
	MinQuestionsAsk      = 1
	MaxQuestionsAsk      = 5
	MaxReconfirmDays     = 730
	MaxSkipsLimit        = 50
	MaxCoolDownHours     = 24 * 30
	// MaxPushReportBlockMinutes caps the block after a fraud report at a
	// week: longer would leave a user without their app after one stray tap.
	MaxPushReportBlockMinutes = 7 * 24 * 60
	// DefaultPushReportBlockMinutes is the "for a while".
	DefaultPushReportBlockMinutes = 60
)

// Policy is the SSPR policy. The JSON names are what `latchkey policy
// show` prints and `policy set` takes.
type Policy struct {
	Scope   Scope    `json:"scope"`
	Group   string   `json:"group,omitempty"`
	Methods []string `json:"methods"`
	// Required is 1 or 2 proofs; two must come from different channels.
	Required          int `json:"required"`
	QuestionsRegister int `json:"questions_register"`
	QuestionsAsk      int `json:"questions_ask"`
	// RegisterAtSignIn sends users with fewer methods than Required to the
	// registration page after a sign-in; they may skip MaxSkips times.
	RegisterAtSignIn bool `json:"register_at_signin"`
	MaxSkips         int  `json:"max_skips"`
	// ReconfirmDays asks users to confirm their methods again after this
	// many days (0 = never).
	ReconfirmDays int  `json:"reconfirm_days"`
	NotifyUser    bool `json:"notify_user"`
	NotifyAdmins  bool `json:"notify_admins"`
	// HelpdeskURL is shown when a user cannot recover ("" = none).
	HelpdeskURL string `json:"helpdesk_url,omitempty"`
	// RequireSignInAfterReset ends a reset on the sign-in page (request
	// still pending) instead of signing the browser in.
	RequireSignInAfterReset bool `json:"require_signin_after_reset"`
	// CoolDownHours: a method added while others exist cannot be used for
	// recovery for this long (the first registration has none).
	CoolDownHours int `json:"cooldown_hours"`
	// PhoneCountries are the ISO 3166 regions (upper case, "US") phones
	// may be registered in and sent to. Empty means the deployment's
	// region (LATCHKEY_DEFAULT_REGION) only: see PhoneAllowlist.
	PhoneCountries []string `json:"phone_countries"`
	// PushReportBlockMinutes is how long "Deny, and report it" blocks
	// pushes for the account (0 = no block).
	PushReportBlockMinutes int `json:"push_report_block_minutes"`
}

var regionRE = regexp.MustCompile(`^[A-Z]{2}$`)

// Default is the policy of a fresh install. available lists the methods
// whose senders are configured (email needs SMTP, phones need Twilio);
// email, the authenticator app (codes and notifications) and mobile phone
// are enabled among them.
func Default(available []string) Policy {
	p := Policy{
		Scope:             ScopeAll,
		Required:          1,
		QuestionsRegister: 3,
		QuestionsAsk:      3,
		RegisterAtSignIn:  true,
		MaxSkips:          3,
		NotifyUser:        true,
		NotifyAdmins:      true,
		CoolDownHours:     24,
		Methods:           []string{},
		PhoneCountries:    []string{},

		PushReportBlockMinutes: DefaultPushReportBlockMinutes,
	}
	for _, m := range []string{TOTP, Push, Mobile, Email} {
		if slices.Contains(available, m) {
			p.Methods = append(p.Methods, m)
		}
	}
	return p
}

// CoolDown is CoolDownHours as a duration.
func (p Policy) CoolDown() time.Duration { return time.Duration(p.CoolDownHours) * time.Hour }

// PushReportBlock is PushReportBlockMinutes as a duration (0: no block).
func (p Policy) PushReportBlock() time.Duration {
	return time.Duration(p.PushReportBlockMinutes) * time.Minute
}

// PhoneAllowlist is the list of regions phones may be registered in and
// sent to: PhoneCountries, or defaultRegion alone when that is empty.
func (p Policy) PhoneAllowlist(defaultRegion string) []string {
	if len(p.PhoneCountries) > 0 {
		return append([]string(nil), p.PhoneCountries...)
	}
	return []string{strings.ToUpper(defaultRegion)}
}

// Enabled reports whether method m may be used (registered or verified).
func (p Policy) Enabled(m string) bool { return slices.Contains(p.Methods, m) }

// AppliesTo reports whether a user may use SSPR. inGroup is asked only for
// a group scope.
func (p Policy) AppliesTo(inGroup func(group string) bool) bool {
	switch p.Scope {
	case ScopeAll:
		return true
	case ScopeGroup:
		return p.Group != "" && inGroup != nil && inGroup(p.Group)
	}
	return false
}

// RequiredFor is the number of proofs a reset needs for a user: admins
// always two.
func (p Policy) RequiredFor(admin bool) int {
	if admin {
		return 2
	}
	return p.Required
}

// Usable reports whether method m counts for a user: enabled, and never
// questions for an admin.
func (p Policy) Usable(m string, admin bool) bool {
	return p.Enabled(m) && !(admin && m == Questions)
}

// Problem is one validation problem: the setting (its JSON name) and
// what is wrong with it.
type Problem struct {
	Field   string
	Message string
}

// InvalidError lists every problem of a policy; its text is the messages,
// one a line, as `latchkey policy set` prints them.
type InvalidError struct{ Problems []Problem }

func (e *InvalidError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Message
	}
	return "policy: " + strings.Join(msgs, "\n")
}

// Validate reports every problem at once, as an *InvalidError; it never
// changes p.
func (p Policy) Validate() error {
	var errs []Problem
	bad := func(field, f string, a ...any) { errs = append(errs, Problem{field, fmt.Sprintf(f, a...)}) }
	switch p.Scope {
	case ScopeNone, ScopeAll:
		if p.Group != "" && p.Scope != ScopeGroup {
			bad("group", "group %q is set but scope is %q (use scope=group)", p.Group, p.Scope)
		}
	case ScopeGroup:
		if strings.TrimSpace(p.Group) == "" {
			bad("group", "scope group needs a group name")
		}
	default:
		bad("scope", "scope must be none, group or all, not %q", p.Scope)
	}
	seen := map[string]bool{}
	for _, m := range p.Methods {
		if !slices.Contains(Known, m) {
			bad("methods", "unknown method %q (known: %s)", m, strings.Join(Known, ", "))
		}
		if seen[m] {
			bad("methods", "method %q listed twice", m)
		}
		seen[m] = true
	}
	if p.Required != 1 && p.Required != 2 {
		bad("required", "required must be 1 or 2, not %d", p.Required)
	}
	possession := 0
	for _, m := range p.Methods {
		if m != Questions && slices.Contains(Known, m) {
			possession++
		}
	}
	if p.Scope != ScopeNone && possession == 0 {
		bad("methods", "enable at least one possession method (email, phone or app): security questions never suffice alone")
	}
	if p.QuestionsRegister < MinQuestionsRegister || p.QuestionsRegister > MaxQuestionsRegister {
		bad("questions_register", "questions_register must be %d to %d, not %d", MinQuestionsRegister, MaxQuestionsRegister, p.QuestionsRegister)
	}
	if p.QuestionsAsk < MinQuestionsAsk || p.QuestionsAsk > MaxQuestionsAsk {
		bad("questions_ask", "questions_ask must be %d to %d, not %d", MinQuestionsAsk, MaxQuestionsAsk, p.QuestionsAsk)
	} else if p.QuestionsAsk > p.QuestionsRegister {
		bad("questions_ask", "questions_ask (%d) cannot exceed questions_register (%d)", p.QuestionsAsk, p.QuestionsRegister)
	}
	if p.MaxSkips < 0 || p.MaxSkips > MaxSkipsLimit {
		bad("max_skips", "max_skips must be 0 to %d, not %d", MaxSkipsLimit, p.MaxSkips)
	}
	if p.ReconfirmDays < 0 || p.ReconfirmDays > MaxReconfirmDays {
		bad("reconfirm_days", "reconfirm_days must be 0 to %d, not %d", MaxReconfirmDays, p.ReconfirmDays)
	}
	if p.CoolDownHours < 0 || p.CoolDownHours > MaxCoolDownHours {
		bad("cooldown_hours", "cooldown_hours must be 0 to %d, not %d", MaxCoolDownHours, p.CoolDownHours)
	}
	if p.PushReportBlockMinutes < 0 || p.PushReportBlockMinutes > MaxPushReportBlockMinutes {
		bad("push_report_block_minutes", "push_report_block_minutes must be 0 (no block) to %d (a week), not %d", MaxPushReportBlockMinutes, p.PushReportBlockMinutes)
	}
	regions := phonenumbers.GetSupportedRegions()
	seenRegion := map[string]bool{}
	for _, r := range p.PhoneCountries {
		switch {
		case !regionRE.MatchString(r):
			bad("phone_countries", "phone_countries: %q is not an upper-case two-letter ISO 3166 code such as US or DE", r)
		case !regions[r]:
			bad("phone_countries", "phone_countries: %q is not a region with phone numbers", r)
		case seenRegion[r]:
			bad("phone_countries", "phone_countries: %q listed twice", r)
		}
		seenRegion[r] = true
	}
	if p.HelpdeskURL != "" {
		u, err := url.Parse(p.HelpdeskURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http" && u.Scheme != "mailto") || (u.Scheme != "mailto" && u.Host == "") {
			bad("helpdesk_url", "helpdesk_url must be an absolute http(s) or mailto URL, not %q", p.HelpdeskURL)
		}
	}
	if len(errs) > 0 {
		return &InvalidError{Problems: errs}
	}
	return nil
}
