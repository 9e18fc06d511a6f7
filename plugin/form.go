package plugin

import (
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/provider/web"
)

// maxForm caps a form body; every field we take is short.
const maxForm = 16 << 10

var errBadForm = &web.PageError{Status: http.StatusBadRequest, Title: "errors.refused.title",
	Message: "errors.bad_form.message"}

// form reads a POSTed form strictly (checklist A6): every field at most
// once, only the named fields (plus csrf), values of sane length. A
// duplicated or array-valued identifier (username=a&username=b) is how a
// reset mail went to an attacker's second address at GitLab; we refuse the
// whole request instead of picking one.
func form(c echo.Context, allowed ...string) (map[string]string, error) {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return nil, errBadForm
	}
	if len(r.URL.RawQuery) > 0 && r.Method == http.MethodPost {
		// Only the body counts: a query string on a POST is somebody
		// trying to smuggle a second value past the form.
		for k := range r.URL.Query() {
			if !slices.Contains(allowed, k) {
				return nil, errBadForm
			}
		}
	}
	out := map[string]string{}
	for k, vs := range r.PostForm {
		if k == web.CSRFField {
			continue
		}
		if len(vs) != 1 || !slices.ContainsFunc(allowed, func(a string) bool {
			return a == k || strings.HasSuffix(a, "*") && strings.HasPrefix(k, strings.TrimSuffix(a, "*"))
		}) {
			return nil, errBadForm
		}
		if len(vs[0]) > 1024 {
			return nil, errBadForm
		}
		out[k] = vs[0]
	}
	return out, nil
}
