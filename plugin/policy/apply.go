package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Keys lists the settings Apply understands, as `latchkey policy set`
// documents them.
var Keys = []string{
	"scope", "group", "methods", "required", "questions_register", "questions_ask",
	"register_at_signin", "max_skips", "reconfirm_days", "notify_user", "notify_admins",
	"helpdesk_url", "require_signin_after_reset", "cooldown_hours", "phone_countries",
	"push_report_block_minutes",
}

// Apply returns p changed by key=value settings (e.g. "required=2",
// "methods=email,totp"), validated as a whole. Every bad setting is
// reported; p itself is never changed.
func Apply(p Policy, settings []string) (Policy, error) {
	out := p
	out.Methods = append([]string{}, p.Methods...)
	out.PhoneCountries = append([]string{}, p.PhoneCountries...)
	var errs []error
	for _, s := range settings {
		k, v, ok := strings.Cut(s, "=")
		k = strings.ReplaceAll(strings.TrimSpace(strings.ToLower(k)), "-", "_")
		v = strings.TrimSpace(v)
		if !ok {
			errs = append(errs, fmt.Errorf("%q: want key=value (keys: %s)", s, strings.Join(Keys, ", ")))
			continue
		}
		if err := set(&out, k, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		}
	}
	if len(errs) > 0 {
		return p, fmt.Errorf("policy: %w", errors.Join(errs...))
	}
	if err := out.Validate(); err != nil {
		return p, err
	}
	return out, nil
}

func set(p *Policy, k, v string) error {
	num := func(dst *int) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*dst = n
		return nil
	}
	flag := func(dst *bool) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*dst = b
		return nil
	}
	switch k {
	case "scope":
		p.Scope = Scope(strings.ToLower(v))
	case "group":
		p.Group = v
	case "methods":
		p.Methods = []string{}
		for _, m := range strings.Split(v, ",") {
			if m = strings.TrimSpace(strings.ToLower(m)); m != "" {
				p.Methods = append(p.Methods, m)
			}
		}
	case "required":
		return num(&p.Required)
	case "questions_register":
		return num(&p.QuestionsRegister)
	case "questions_ask":
		return num(&p.QuestionsAsk)
	case "register_at_signin":
		return flag(&p.RegisterAtSignIn)
	case "max_skips":
		return num(&p.MaxSkips)
	case "reconfirm_days":
		return num(&p.ReconfirmDays)
	case "notify_user":
		return flag(&p.NotifyUser)
	case "notify_admins":
		return flag(&p.NotifyAdmins)
	case "helpdesk_url":
		p.HelpdeskURL = v
	case "require_signin_after_reset":
		return flag(&p.RequireSignInAfterReset)
	case "cooldown_hours":
		return num(&p.CoolDownHours)
	case "phone_countries":
		// "DE, at" → [DE AT]; empty → the deployment's region only.
		p.PhoneCountries = []string{}
		for _, r := range strings.Split(v, ",") {
			if r = strings.ToUpper(strings.TrimSpace(r)); r != "" {
				p.PhoneCountries = append(p.PhoneCountries, r)
			}
		}
	case "push_report_block_minutes":
		return num(&p.PushReportBlockMinutes)
	default:
		return fmt.Errorf("unknown setting (keys: %s)", strings.Join(Keys, ", "))
	}
	return nil
}
