package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/admin"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// userFields are the fields the user form shows, as the API names them.
var userFields = []string{"username", "email", "name", "given_name", "family_name", "phone", "locale", "groups",
	"admin", "password"}

// lockChoices are the lock form's durations, in seconds.
var lockChoices = []int64{3600, 86400, 7 * 86400, 30 * 86400}

// userAction is one button of a user's page: a POST to the console that
// is one API call on the user.
type userAction struct {
	name, method, path string
	// shown says whether the button applies to u now.
	shown func(u admin.User) bool
	// body reads the action's form (nil: the call has no body).
	body func(c echo.Context, p *problems) any
}

var userActions = []userAction{
	{"disable", http.MethodPost, "/disable", func(u admin.User) bool { return !u.State.Disabled }, nil},
	{"enable", http.MethodPost, "/enable", func(u admin.User) bool { return u.State.Disabled }, nil},
	{"lock", http.MethodPost, "/lock", func(u admin.User) bool { return u.State.LockedUntil == nil }, lockBody},
	{"unlock", http.MethodPost, "/unlock", func(u admin.User) bool { return u.State.LockedUntil != nil }, nil},
	{"register-again", http.MethodPost, "/register-again", func(u admin.User) bool { return !u.State.RegisterAgain }, nil},
	{"clear-report", http.MethodDelete, "/report", func(u admin.User) bool { return u.State.ReportedAt != nil }, nil},
	{"grant-admin", http.MethodPut, "/admin", func(u admin.User) bool { return !u.Admin }, nil},
	{"revoke-admin", http.MethodDelete, "/admin", func(u admin.User) bool { return u.Admin }, nil},
}

func lockBody(c echo.Context, p *problems) any {
	d, err := strconv.ParseInt(c.Request().PostFormValue("duration"), 10, 64)
	if err != nil || !slices.Contains(lockChoices, d) {
		p.Fields["duration"] = []string{i18n.From(c.Request().Context()).T("consoleusers.lock.choose")}
	}
	return map[string]int64{"duration": d}
}

// userForm is the create and edit form's values as typed, so a refused
// form comes back as it was sent.
type userForm struct {
	ID, Username, Email, Name, GivenName, FamilyName, Phone, Locale, Groups string
	Admin                                                                   bool
	// Initial is "password" or "setup_link" (create only).
	Initial, Password   string
	Temporary, SendMail bool
}

func userFormOf(u admin.User) userForm {
	return userForm{ID: u.ID, Username: u.Username, Email: u.Email, Name: u.Name, GivenName: u.GivenName,
		FamilyName: u.FamilyName, Phone: u.Phone, Locale: u.Locale, Groups: strings.Join(u.Groups, "\n"), Admin: u.Admin}
}

func readUserForm(c echo.Context) userForm {
	r := c.Request()
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	return userForm{Username: v("username"), Email: v("email"), Name: v("name"), GivenName: v("given_name"),
		FamilyName: v("family_name"), Phone: v("phone"), Locale: v("locale"), Groups: r.PostFormValue("groups"),
		Admin: v("admin") == "true", Initial: v("initial"), Password: r.PostFormValue("password"),
		Temporary: v("temporary") == "true", SendMail: v("send_email") == "true"}
}

func (f userForm) create() admin.UserCreate {
	in := admin.UserCreate{UserProfile: admin.UserProfile{Username: f.Username, Email: f.Email, Name: f.Name,
		GivenName: f.GivenName, FamilyName: f.FamilyName, Phone: f.Phone, Locale: f.Locale, Groups: lines(f.Groups),
		Admin: f.Admin}}
	if f.Initial == "setup_link" {
		in.SetupLink, in.SendEmail = true, f.SendMail
	} else {
		in.Password, in.Temporary = f.Password, f.Temporary
	}
	return in
}

// change is the edit form as a full update of every field it shows.
func (f userForm) change() admin.UserChange {
	g := lines(f.Groups)
	return admin.UserChange{Name: &f.Name, GivenName: &f.GivenName, FamilyName: &f.FamilyName, Email: &f.Email,
		Phone: &f.Phone, Locale: &f.Locale, Groups: &g}
}

func userPath(id string) string { return "/users/" + url.PathEscape(id) }

// userPage is a user's console page.
func userPage(id string) string { return Path + userPath(id) }

var errNoSuchUser = &web.PageError{Status: http.StatusNotFound, Title: "consoleusers.error.no_user_title",
	Message: "consoleusers.error.no_user", Link: Path + "/users", LinkText: "consoleusers.nav.users"}

// errGone marks a 404 of a method or report that is already gone: the
// user's page says so instead of "no such user".
var errGone = errors.New("console: already gone")

// --- pages ---

func (k *Console) userList(c echo.Context, s *session) error {
	q := strings.TrimSpace(c.QueryParam("q"))
	v := url.Values{"limit": {"50"}, "q": {q}}
	if cur := c.QueryParam("cursor"); cur != "" && len(cur) < 200 {
		v.Set("cursor", cur)
	}
	var page admin.Page[admin.UserSummary]
	p, err := k.api.do(c.Request().Context(), s, call{method: http.MethodGet, path: "/users?" + v.Encode(), out: &page})
	if err != nil {
		return err
	}
	next := ""
	if page.NextCursor != "" {
		next = Path + "/users?" + url.Values{"q": {q}, "cursor": {page.NextCursor}}.Encode()
	}
	notice := ""
	if c.QueryParam("done") == "deleted" {
		notice = i18n.From(c.Request().Context()).T("consoleusers.done.deleted")
	}
	return k.render(c, http.StatusOK, "admin-users", s, map[string]any{"Section": "users", "Users": page.Items,
		"Query": q, "Next": next, "Problems": p.claim(), "Notice": notice})
}

// methodRow is a registered method with its remove form's key.
type methodRow struct {
	admin.Method
	Idem string
}

// actionForm is one button form of a user's page, with a key of its own.
type actionForm struct {
	Name, Action, Idem string
}

// showUser renders a user's page; status and p are a refused action's.
func (k *Console) showUser(c echo.Context, s *session, id string, status int, p *problems) error {
	ctx := c.Request().Context()
	var u admin.User
	if _, err := k.api.do(ctx, s, call{method: http.MethodGet, path: userPath(id), out: &u, missing: errNoSuchUser}); err != nil {
		return err
	}
	var methods admin.Page[admin.Method]
	if _, err := k.api.do(ctx, s, call{method: http.MethodGet, path: userPath(id) + "/methods", out: &methods, missing: errNoSuchUser}); err != nil {
		return err
	}
	var sessions admin.Page[admin.Session]
	if _, err := k.api.do(ctx, s, call{method: http.MethodGet, path: userPath(id) + "/sessions", out: &sessions, missing: errNoSuchUser}); err != nil {
		return err
	}
	rows := make([]methodRow, len(methods.Items))
	for i, m := range methods.Items {
		rows[i] = methodRow{Method: m, Idem: randomToken()}
	}
	base := userPage(id)
	var actions []actionForm
	for _, a := range userActions {
		if a.shown(u) && a.name != "lock" {
			actions = append(actions, actionForm{Name: a.name, Action: base + "/" + a.name, Idem: randomToken()})
		}
	}
	notice := ""
	if id, ok := doneNotices[c.QueryParam("done")]; ok {
		notice = i18n.From(ctx).T(id)
	}
	return k.render(c, status, "admin-user", s, map[string]any{"Section": "users", "User": u, "Methods": rows,
		"Sessions": sessions.Items, "Actions": actions, "Base": base, "Locks": lockChoices,
		"CanLock": u.State.LockedUntil == nil, "LockIdem": randomToken(), "ResetIdem": randomToken(),
		"SignOutIdem": randomToken(), "Problems": p, "Notice": notice})
}

func (k *Console) userShow(c echo.Context, s *session) error {
	return k.showUser(c, s, c.Param("id"), http.StatusOK, nil)
}

// runUserAction is the handler of one action button.
func (k *Console) runUserAction(a userAction) page {
	return func(c echo.Context, s *session) error {
		ctx, id := c.Request().Context(), c.Param("id")
		p := noProblems()
		var in any
		if a.body != nil {
			in = a.body(c, p)
		}
		if !p.any() {
			var err error
			p, err = k.api.do(ctx, s, call{method: a.method, path: userPath(id) + a.path,
				idem: c.Request().PostFormValue("idem"), in: in, missing: errNoSuchUser})
			if err != nil {
				return err
			}
		}
		if p != nil {
			return k.showUser(c, s, id, http.StatusBadRequest, p.claim("duration"))
		}
		return see(c, userPage(id)+"?done="+a.name)
	}
}

func (k *Console) userSignOut(c echo.Context, s *session) error {
	id := c.Param("id")
	p, err := k.api.do(c.Request().Context(), s, call{method: http.MethodDelete, path: userPath(id) + "/sessions",
		idem: c.Request().PostFormValue("idem"), missing: errNoSuchUser})
	if err != nil {
		return err
	}
	if p != nil {
		return k.showUser(c, s, id, http.StatusBadRequest, p.claim())
	}
	return see(c, userPage(id)+"?done=signed-out")
}

func (k *Console) userMethodRemove(c echo.Context, s *session) error {
	ctx, id := c.Request().Context(), c.Param("id")
	p, err := k.api.do(ctx, s, call{method: http.MethodDelete, path: userPath(id) + "/methods/" + url.PathEscape(c.Param("method")),
		idem: c.Request().PostFormValue("idem"), missing: errGone})
	if errors.Is(err, errGone) {
		p, err = &problems{Detail: i18n.From(ctx).T("consoleusers.methods.gone")}, nil
	}
	if err != nil {
		return err
	}
	if p != nil {
		return k.showUser(c, s, id, http.StatusBadRequest, p.claim())
	}
	return see(c, userPage(id)+"?done=method-removed")
}

// userPassword resets the password: the temporary password or the setup
// link is shown this once.
func (k *Console) userPassword(c echo.Context, s *session) error {
	ctx, id, r := c.Request().Context(), c.Param("id"), c.Request()
	in := admin.PasswordReset{Method: r.PostFormValue("method")}
	if in.Method == "setup_link" {
		in.SendEmail = r.PostFormValue("send_email") == "true"
	}
	var out admin.PasswordResetDone
	p, err := k.api.do(ctx, s, call{method: http.MethodPost, path: userPath(id) + "/password", idem: r.PostFormValue("idem"),
		in: in, out: &out, missing: errNoSuchUser})
	if err != nil {
		return err
	}
	if p != nil {
		return k.showUser(c, s, id, http.StatusBadRequest, p.claim("method"))
	}
	return k.render(c, http.StatusOK, "admin-user-secret", s, map[string]any{"Section": "users",
		"Temporary": out.TemporaryPassword, "Link": out.SetupLink, "Back": userPage(id)})
}

func (k *Console) renderUserForm(c echo.Context, s *session, status int, f userForm, edit bool, p *problems) error {
	action := Path + "/users/new"
	if edit {
		action = userPage(f.ID) + "/edit"
	}
	return k.render(c, status, "admin-user-form", s, map[string]any{"Section": "users", "Form": f, "Edit": edit,
		"Fields": f.fields(edit), "Action": action, "Problems": p})
}

func (k *Console) userNew(c echo.Context, s *session) error {
	return k.renderUserForm(c, s, http.StatusOK, userForm{Initial: "setup_link"}, false, nil)
}

func (k *Console) userCreate(c echo.Context, s *session) error {
	f := readUserForm(c)
	var out admin.UserCreated
	p, err := k.api.do(c.Request().Context(), s, call{method: http.MethodPost, path: "/users",
		idem: c.Request().PostFormValue("idem"), in: f.create(), out: &out})
	if err != nil {
		return err
	}
	if p != nil {
		f.Password = "" // never sent back to the browser
		return k.renderUserForm(c, s, http.StatusBadRequest, f, false, p.claim(userFields...))
	}
	if out.SetupLink == nil {
		return see(c, userPage(out.User.ID)+"?done=created")
	}
	return k.render(c, http.StatusOK, "admin-user-secret", s, map[string]any{"Section": "users", "Created": true,
		"Link": out.SetupLink, "Back": userPage(out.User.ID)})
}

func (k *Console) userEdit(c echo.Context, s *session) error {
	var u admin.User
	if _, err := k.api.do(c.Request().Context(), s, call{method: http.MethodGet, path: userPath(c.Param("id")), out: &u,
		missing: errNoSuchUser}); err != nil {
		return err
	}
	return k.renderUserForm(c, s, http.StatusOK, userFormOf(u), true, nil)
}

func (k *Console) userUpdate(c echo.Context, s *session) error {
	f := readUserForm(c)
	f.ID = c.Param("id")
	p, err := k.api.do(c.Request().Context(), s, call{method: http.MethodPatch, path: userPath(f.ID),
		idem: c.Request().PostFormValue("idem"), in: f.change(), missing: errNoSuchUser})
	if err != nil {
		return err
	}
	if p != nil {
		var u admin.User // the fixed fields as they are
		if _, err := k.api.do(c.Request().Context(), s, call{method: http.MethodGet, path: userPath(f.ID), out: &u,
			missing: errNoSuchUser}); err != nil {
			return err
		}
		f.Username, f.Admin = u.Username, u.Admin
		return k.renderUserForm(c, s, http.StatusBadRequest, f, true, p.claim(userFields...))
	}
	return see(c, userPage(f.ID)+"?done=saved")
}

func (k *Console) renderUserDelete(c echo.Context, s *session, status int, u admin.User, p *problems) error {
	return k.render(c, status, "admin-user-delete", s, map[string]any{"Section": "users", "User": u, "Problems": p,
		"Action": userPage(u.ID) + "/delete", "Back": userPage(u.ID)})
}

func (k *Console) userDeleteConfirm(c echo.Context, s *session) error {
	var u admin.User
	if _, err := k.api.do(c.Request().Context(), s, call{method: http.MethodGet, path: userPath(c.Param("id")), out: &u,
		missing: errNoSuchUser}); err != nil {
		return err
	}
	return k.renderUserDelete(c, s, http.StatusOK, u, nil)
}

func (k *Console) userDelete(c echo.Context, s *session) error {
	ctx, id := c.Request().Context(), c.Param("id")
	p, err := k.api.do(ctx, s, call{method: http.MethodDelete, path: userPath(id), idem: c.Request().PostFormValue("idem"),
		missing: errNoSuchUser})
	if err != nil {
		return err
	}
	if p != nil {
		var u admin.User
		if _, err := k.api.do(ctx, s, call{method: http.MethodGet, path: userPath(id), out: &u, missing: errNoSuchUser}); err != nil {
			return err
		}
		return k.renderUserDelete(c, s, http.StatusBadRequest, u, p.claim())
	}
	return see(c, Path+"/users?done=deleted")
}

// userRoutes are the users pages, for routes().
func (k *Console) userRoutes() []route {
	rs := []route{
		{http.MethodGet, "/users", k.userList},
		{http.MethodGet, "/users/new", k.userNew},
		{http.MethodPost, "/users/new", k.userCreate},
		{http.MethodGet, "/users/:id", k.userShow},
		{http.MethodGet, "/users/:id/edit", k.userEdit},
		{http.MethodPost, "/users/:id/edit", k.userUpdate},
		{http.MethodGet, "/users/:id/delete", k.userDeleteConfirm},
		{http.MethodPost, "/users/:id/delete", k.userDelete},
		{http.MethodPost, "/users/:id/password", k.userPassword},
		{http.MethodPost, "/users/:id/sign-out", k.userSignOut},
		{http.MethodPost, "/users/:id/methods/:method/remove", k.userMethodRemove},
	}
	for _, a := range userActions {
		rs = append(rs, route{http.MethodPost, "/users/:id/" + a.name, k.runUserAction(a)})
	}
	return rs
}

// doneNotices are the user page's notices after a change, by ?done=.
var doneNotices = map[string]string{
	"saved": "consoleusers.done.saved", "created": "consoleusers.done.created",
	"method-removed": "consoleusers.done.method_removed", "signed-out": "consoleusers.done.signed_out",
	"disable": "consoleusers.done.disable", "enable": "consoleusers.done.enable", "lock": "consoleusers.done.lock",
	"unlock": "consoleusers.done.unlock", "register-again": "consoleusers.done.register_again",
	"clear-report": "consoleusers.done.clear_report", "grant-admin": "consoleusers.done.grant_admin",
	"revoke-admin": "consoleusers.done.revoke_admin",
}

// formField is one text field of the user form.
type formField struct{ Name, Label, Value, Type string }

// fields are the form's text fields in order; the username is fixed
// after creation.
func (f userForm) fields(edit bool) []formField {
	out := []formField{}
	if !edit {
		out = append(out, formField{"username", "consoleusers.field.username", f.Username, "text"})
	}
	return append(out,
		formField{"email", "consoleusers.field.email", f.Email, "email"},
		formField{"name", "consoleusers.field.name", f.Name, "text"},
		formField{"given_name", "consoleusers.field.given_name", f.GivenName, "text"},
		formField{"family_name", "consoleusers.field.family_name", f.FamilyName, "text"},
		formField{"phone", "consoleusers.field.phone", f.Phone, "tel"},
		formField{"locale", "consoleusers.field.locale", f.Locale, "text"})
}
