package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/policy"
)

// MethodSwitch is one method's switch: on in the policy, and deliverable
// by this server.
type MethodSwitch struct {
	Method    string `json:"method"`
	Enabled   bool   `json:"enabled"`
	Available bool   `json:"available"`
}

// CustomQuestion is an admin-defined security question. Translations
// holds its text per language; Text is the default language's ("en"),
// shown to readers of a language without one.
type CustomQuestion struct {
	ID           string            `json:"id"`
	Text         string            `json:"text"`
	Translations map[string]string `json:"translations"`
}

// PolicyView is the recovery policy as the API shows it: every setting of
// `latchkey policy`, and, read-only, the method switches and the custom
// questions.
type PolicyView struct {
	policy.Policy
	MethodSwitches  []MethodSwitch   `json:"method_switches"`
	CustomQuestions []CustomQuestion `json:"custom_questions"`
}

// readOnly are PolicyView's fields a change may not name.
var readOnly = []string{"method_switches", "custom_questions"}

func (a *API) policyView(c echo.Context, p policy.Policy, version string) (PolicyView, error) {
	v := PolicyView{Policy: p, MethodSwitches: []MethodSwitch{}, CustomQuestions: []CustomQuestion{}}
	for _, m := range policy.Known {
		v.MethodSwitches = append(v.MethodSwitches, MethodSwitch{m, p.Enabled(m), slices.Contains(a.d.Ops.Available, m)})
	}
	qs, err := a.d.Ops.Questions.Custom(c.Request().Context())
	if err != nil {
		return v, err
	}
	for _, q := range qs {
		v.CustomQuestions = append(v.CustomQuestions, customView(q))
	}
	c.Response().Header().Set("ETag", `"`+version+`"`)
	return v, nil
}

func (a *API) getPolicy(c echo.Context) error {
	p, version, err := a.d.Ops.Policies.Versioned(c.Request().Context())
	if err != nil {
		return err
	}
	v, err := a.policyView(c, p, version)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// ifMatch reads If-Match: the one version the change is based on.
func ifMatch(c echo.Context) (string, error) {
	h := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if h == "" {
		return "", newProblem(http.StatusPreconditionRequired, typePrecondition,
			"send If-Match with the ETag of the policy you read, so a change made meanwhile is not overwritten")
	}
	if h == "*" {
		return h, nil
	}
	if len(h) < 2 || h[0] != '"' || h[len(h)-1] != '"' || strings.Contains(h[1:len(h)-1], `"`) {
		return "", invalidFields("the If-Match header has problems", FieldError{"If-Match", `must be one ETag as GET /policy returned it, e.g. "0123abcd"`})
	}
	return h[1 : len(h)-1], nil
}

func (a *API) updatePolicy(c echo.Context) error {
	ctx := c.Request().Context()
	version, err := ifMatch(c)
	if err != nil {
		return err
	}
	cur, curVersion, err := a.d.Ops.Policies.Versioned(ctx)
	if err != nil {
		return err
	}
	if version == "*" {
		version = curVersion
	}
	if version != curVersion {
		_ = a.record(c, "admin.policy.set", "stale", "")
		return stale(curVersion)
	}
	var raw map[string]json.RawMessage
	if err := decodeJSON(c, &raw); err != nil {
		return err
	}
	if len(raw) == 0 {
		return invalidFields("the change changes nothing", FieldError{"", "give at least one setting to change"})
	}
	next, errs := mergePolicy(cur, raw)
	for _, m := range next.Methods {
		if !slices.Contains(cur.Methods, m) && slices.Contains(policy.Known, m) && !slices.Contains(a.d.Ops.Available, m) {
			errs = append(errs, FieldError{"methods", fmt.Sprintf("%q is not available on this server (email needs SMTP, phones a text and voice gateway)", m)})
		}
	}
	var inv *policy.InvalidError
	if err := next.Validate(); errors.As(err, &inv) {
		for _, p := range inv.Problems {
			errs = append(errs, FieldError{p.Field, p.Message})
		}
	}
	if len(errs) > 0 {
		_ = a.record(c, "admin.policy.set", "failed", "fields="+fieldNames(errs))
		return invalidFields("the policy has problems", errs...)
	}
	newVersion, err := a.d.Ops.Policies.SetIf(ctx, next, version)
	if errors.Is(err, policy.ErrStale) {
		_ = a.record(c, "admin.policy.set", "stale", "")
		return stale("")
	}
	if err != nil {
		return err
	}
	if err := a.record(c, "admin.policy.set", "ok", policy.DescribeChanges(cur, next)); err != nil {
		return err
	}
	v, err := a.policyView(c, next, newVersion)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// stale is the 412 of a change based on an old version; it names the
// current one when known, so a client can show the difference.
func stale(current string) error {
	p := newProblem(http.StatusPreconditionFailed, typePrecondition,
		"the policy changed since you read it; read it again (GET /policy), reapply your change and send the new ETag")
	if current != "" {
		p = p.with("ETag", `"`+current+`"`)
	}
	return p
}

// mergePolicy applies the settings of a JSON merge patch (RFC 7396, one
// level: each setting given replaces the current one) to cur, and lists
// every setting that is unknown, read-only, null or of the wrong type.
func mergePolicy(cur policy.Policy, raw map[string]json.RawMessage) (policy.Policy, []FieldError) {
	next := cur
	next.Methods = slices.Clone(cur.Methods)
	next.PhoneCountries = slices.Clone(cur.PhoneCountries)
	var errs []FieldError
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := raw[k]
		switch {
		case slices.Contains(readOnly, k):
			errs = append(errs, FieldError{k, "is read-only here"})
			continue
		case !slices.Contains(policy.Keys, k):
			errs = append(errs, FieldError{k, "unknown setting"})
			continue
		case bytes.Equal(bytes.TrimSpace(v), []byte("null")):
			errs = append(errs, FieldError{k, "must not be null"})
			continue
		}
		one, _ := json.Marshal(map[string]json.RawMessage{k: v})
		try := next // with its own lists: a failed decode may have written into them
		try.Methods, try.PhoneCountries = slices.Clone(next.Methods), slices.Clone(next.PhoneCountries)
		dec := json.NewDecoder(bytes.NewReader(one))
		dec.DisallowUnknownFields()
		var te *json.UnmarshalTypeError
		if err := dec.Decode(&try); err != nil {
			msg := "has the wrong type"
			if errors.As(err, &te) {
				msg = "must be " + jsonKind(te.Type.Kind().String())
			}
			errs = append(errs, FieldError{k, msg})
			continue
		}
		next = try
	}
	if next.Methods == nil {
		next.Methods = []string{}
	}
	if next.PhoneCountries == nil {
		next.PhoneCountries = []string{}
	}
	return next, errs
}

func fieldNames(errs []FieldError) string {
	var names []string
	for _, e := range errs {
		if !slices.Contains(names, e.Field) {
			names = append(names, e.Field)
		}
	}
	return strings.Join(names, ",")
}
