package plugin

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// fieldNext carries, through the step-up's forms, the Security info page
// the user asked for, so the step-up ends there and not on the list.
const fieldNext = "next"

// nextFor is where a step-up shown for this request goes when it
// succeeds: the page itself for a GET, what the step-up's own forms
// carried for a POST ("" for the list).
func (p *securityInfo) nextFor(c echo.Context) string {
	r := c.Request()
	if r.Method == http.MethodGet {
		return p.cleanNext(r.URL.RequestURI())
	}
	return p.cleanNext(r.PostFormValue(fieldNext))
}

// cleanNext keeps s only when it is a path of Security info on this
// server (never another host: it becomes a redirect).
func (p *securityInfo) cleanNext(s string) string {
	base := p.path("/security-info")
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		strings.ContainsAny(s, "\\\r\n") || strings.Contains(u.Path, "..") ||
		(u.Path != base && !strings.HasPrefix(u.Path, base+"/")) ||
		strings.HasPrefix(u.Path, base+"/verify") {
		return ""
	}
	return u.RequestURI()
}

// afterStepUp is where a finished step-up goes.
func (p *securityInfo) afterStepUp(next string) string {
	if n := p.cleanNext(next); n != "" {
		return n
	}
	return p.path("/security-info")
}

// wrongAnswer says what failed on the Security info pages, by what was
// asked (never the bare "That did not work.").
func wrongAnswer(l *i18n.Localizer, kind string) string {
	switch kind {
	case "totp":
		return l.T("securityinfo.wrong.totp")
	case "push":
		return l.T("securityinfo.wrong.push")
	case "questions":
		return l.T("securityinfo.wrong.questions")
	case "number":
		return l.T("securityinfo.wrong.number")
	}
	return l.T("securityinfo.wrong.code")
}
