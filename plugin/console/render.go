package console

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/ui/i18n"
)

// navItem is one entry of the console's navigation.
type navItem struct {
	Label, Href string
	Current     bool
}

// sections are the console's areas, in the navigation's order. A new area
// is one entry here (its label in the admin catalog) and its routes.
var sections = []struct{ key, label, href string }{
	{"home", "console.nav.home", Path},
	{"apps", "console.nav.apps", Path + "/apps"},
	{"users", "consoleusers.nav.users", Path + "/users"},
	{"policy", "consoleops.nav.policy", Path + "/policy"},
	{"audit", "consoleops.nav.audit", Path + "/audit"},
	{"reports", "consoleops.nav.reports", Path + "/reports"},
}

// render writes a console page: data plus what every page needs (the
// navigation, the session's CSRF token, a fresh Idempotency-Key for the
// page's form).
func (k *Console) render(c echo.Context, status int, name string, s *session, data map[string]any) error {
	if data == nil {
		data = map[string]any{}
	}
	if p, ok := data["Problems"].(*problems); !ok || p == nil {
		data["Problems"] = noProblems()
	}
	if s != nil {
		section, _ := data["Section"].(string)
		var nav []navItem
		for _, x := range sections {
			nav = append(nav, navItem{Label: x.label, Href: x.href, Current: x.key == section})
		}
		data["Nav"], data["CSRF"], data["Idem"] = nav, s.CSRF, randomToken()
		data["SignOut"] = Path + "/sign-out"
	}
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return k.cfg.Renderer.Render(c.Response(), c.Request(), name, data)
}

// tr is a message in the request's language.
func tr(c echo.Context, id string, data ...any) string {
	return i18n.From(c.Request().Context()).T(id, data...)
}

// see answers a form with a 303 to a console page.
func see(c echo.Context, path string) error { return c.Redirect(http.StatusSeeOther, path) }
