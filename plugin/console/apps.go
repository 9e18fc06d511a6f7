package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/admin"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// The choices the app form offers, as the API names them.
var (
	grantChoices = []string{"authorization_code", "refresh_token", "client_credentials"}
	algChoices   = []string{"RS256", "ES256"}
	tokenChoices = []string{"opaque", "jwt"}
	// graceChoices are the regenerate form's grace periods, in seconds.
	graceChoices = []int64{0, 3600, 86400, 7 * 86400, 30 * 86400}
	// appFields are the fields the app form shows, as the API names them.
	appFields = []string{"id", "name", "logo_uri", "redirect_uris", "post_logout_redirect_uris", "grant_types",
		"public", "third_party", "admin_api", "id_token_alg", "access_token_type",
		"access_token_ttl", "id_token_ttl", "refresh_idle_ttl", "refresh_max_ttl"}
)

// appForm is the app form's values as typed, so a refused form comes
// back as it was sent.
type appForm struct {
	ID, Name, LogoURI, RedirectURIs, PostLogoutURIs string
	Grants                                          map[string]bool
	Public, ThirdParty, AdminAPI                    bool
	IDTokenAlg, AccessTokenType                     string
	// Lifetimes in seconds; empty on create means the configured default.
	TTL map[string]string
}

var ttlFields = []string{"access_token_ttl", "id_token_ttl", "refresh_idle_ttl", "refresh_max_ttl"}

func formOf(a admin.App) appForm {
	f := appForm{ID: a.ID, Name: a.Name, LogoURI: a.LogoURI, RedirectURIs: strings.Join(a.RedirectURIs, "\n"),
		PostLogoutURIs: strings.Join(a.PostLogoutRedirectURIs, "\n"), Grants: map[string]bool{},
		Public: a.Public, ThirdParty: a.ThirdParty, AdminAPI: a.AdminAPI, IDTokenAlg: a.IDTokenAlg,
		AccessTokenType: a.AccessTokenType, TTL: map[string]string{}}
	for _, g := range a.GrantTypes {
		f.Grants[g] = true
	}
	for i, v := range []int64{a.AccessTokenTTL, a.IDTokenTTL, a.RefreshIdleTTL, a.RefreshMaxTTL} {
		f.TTL[ttlFields[i]] = strconv.FormatInt(v, 10)
	}
	return f
}

func readForm(c echo.Context) appForm {
	r := c.Request()
	f := appForm{ID: strings.TrimSpace(r.PostFormValue("id")), Name: r.PostFormValue("name"),
		LogoURI: strings.TrimSpace(r.PostFormValue("logo_uri")), RedirectURIs: r.PostFormValue("redirect_uris"),
		PostLogoutURIs: r.PostFormValue("post_logout_redirect_uris"), Grants: map[string]bool{},
		Public: r.PostFormValue("public") == "true", ThirdParty: r.PostFormValue("third_party") == "true",
		AdminAPI: r.PostFormValue("admin_api") == "true", IDTokenAlg: r.PostFormValue("id_token_alg"),
		AccessTokenType: r.PostFormValue("access_token_type"), TTL: map[string]string{}}
	for _, g := range r.PostForm["grant_types"] {
		f.Grants[g] = true
	}
	for _, k := range ttlFields {
		f.TTL[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	return f
}

// lines is a textarea's values, one a line.
func lines(s string) []string {
	out := []string{}
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func (f appForm) grants() []string {
	out := []string{}
	for _, g := range grantChoices {
		if f.Grants[g] {
			out = append(out, g)
		}
	}
	return out
}

// ttls parses the lifetimes; a value that is no whole number is a problem
// of its field.
func (f appForm) ttls(l *i18n.Localizer, p *problems) [4]int64 {
	var out [4]int64
	for i, k := range ttlFields {
		if f.TTL[k] == "" {
			continue
		}
		n, err := strconv.ParseInt(f.TTL[k], 10, 64)
		if err != nil || n < 0 {
			p.Fields[k] = append(p.Fields[k], l.T("console.apps.whole_number"))
			continue
		}
		out[i] = n
	}
	return out
}

func (f appForm) settings(l *i18n.Localizer, p *problems) admin.AppSettings {
	t := f.ttls(l, p)
	return admin.AppSettings{ID: f.ID, Name: f.Name, LogoURI: f.LogoURI, RedirectURIs: lines(f.RedirectURIs),
		PostLogoutRedirectURIs: lines(f.PostLogoutURIs), GrantTypes: f.grants(), Public: f.Public,
		ThirdParty: f.ThirdParty, AdminAPI: f.AdminAPI, IDTokenAlg: f.IDTokenAlg, AccessTokenType: f.AccessTokenType,
		AccessTokenTTL: t[0], IDTokenTTL: t[1], RefreshIdleTTL: t[2], RefreshMaxTTL: t[3]}
}

// change is the edit form as a full update of every field it shows.
func (f appForm) change(l *i18n.Localizer, p *problems) admin.AppChange {
	a := f.settings(l, p)
	ch := admin.AppChange{Name: &a.Name, LogoURI: &a.LogoURI, RedirectURIs: &a.RedirectURIs,
		PostLogoutRedirectURIs: &a.PostLogoutRedirectURIs, GrantTypes: &a.GrantTypes, ThirdParty: &a.ThirdParty,
		AdminAPI: &a.AdminAPI, IDTokenAlg: &a.IDTokenAlg, AccessTokenType: &a.AccessTokenType}
	for i, dst := range []**int64{&ch.AccessTokenTTL, &ch.IDTokenTTL, &ch.RefreshIdleTTL, &ch.RefreshMaxTTL} {
		if f.TTL[ttlFields[i]] != "" {
			v := []int64{a.AccessTokenTTL, a.IDTokenTTL, a.RefreshIdleTTL, a.RefreshMaxTTL}[i]
			*dst = &v
		}
	}
	return ch
}

func noProblems() *problems { return &problems{Fields: map[string][]string{}} }

func (p *problems) any() bool {
	return p != nil && (len(p.Fields) > 0 || len(p.Other) > 0 || p.Detail != "")
}

// --- pages ---

func (k *Console) home(c echo.Context, s *session) error {
	return k.render(c, http.StatusOK, "admin-home", s, map[string]any{"Section": "home"})
}

func (k *Console) appList(c echo.Context, s *session) error {
	q := url.Values{"limit": {"50"}}
	if cur := c.QueryParam("cursor"); cur != "" && len(cur) < 200 {
		q.Set("cursor", cur)
	}
	var page admin.Page[admin.App]
	p, err := k.api.do(c.Request().Context(), s, call{method: http.MethodGet, path: "/apps?" + q.Encode(), out: &page})
	if err != nil {
		return err
	}
	next := ""
	if page.NextCursor != "" {
		next = Path + "/apps?" + url.Values{"cursor": {page.NextCursor}}.Encode()
	}
	notice := ""
	if c.QueryParam("done") == "deleted" {
		notice = i18n.From(c.Request().Context()).T("console.apps.deleted")
	}
	return k.render(c, http.StatusOK, "admin-apps", s, map[string]any{"Section": "apps", "Apps": page.Items,
		"Next": next, "Problems": p, "Notice": notice})
}

// renderForm shows the register or edit form with its problems.
func (k *Console) renderForm(c echo.Context, s *session, status int, f appForm, edit bool, p *problems) error {
	action := Path + "/apps/new"
	if edit {
		action = Path + "/apps/" + url.PathEscape(f.ID) + "/edit"
	}
	return k.render(c, status, "admin-app-form", s, map[string]any{"Section": "apps", "Form": f, "Edit": edit,
		"Action": action, "Problems": p, "Grants": grantChoices, "Algs": algChoices, "TokenTypes": tokenChoices,
		"TTLs": ttlFields})
}

func (k *Console) appNew(c echo.Context, s *session) error {
	f := appForm{Grants: map[string]bool{"authorization_code": true, "refresh_token": true}, IDTokenAlg: "RS256",
		AccessTokenType: "opaque", TTL: map[string]string{}}
	return k.renderForm(c, s, http.StatusOK, f, false, nil)
}

func (k *Console) appCreate(c echo.Context, s *session) error {
	ctx := c.Request().Context()
	f := readForm(c)
	p := noProblems()
	in := f.settings(i18n.From(ctx), p)
	if p.any() {
		return k.renderForm(c, s, http.StatusBadRequest, f, false, p)
	}
	var out admin.Created
	p, err := k.api.do(ctx, s, call{method: http.MethodPost, path: "/apps", idem: c.Request().PostFormValue("idem"), in: in, out: &out})
	if err != nil {
		return err
	}
	if p != nil {
		return k.renderForm(c, s, http.StatusBadRequest, f, false, p.claim(appFields...))
	}
	return k.showApp(c, s, out.App.ID, out.ClientSecret, nil)
}

// showApp renders an app with its "How to connect" panel; secret, when
// given, is shown this once.
func (k *Console) showApp(c echo.Context, s *session, id, secret string, until any) error {
	ctx := c.Request().Context()
	var app admin.App
	if _, err := k.api.do(ctx, s, call{method: http.MethodGet, path: appPath(id), out: &app}); err != nil {
		return err
	}
	var conn admin.Connect
	if _, err := k.api.do(ctx, s, call{method: http.MethodGet, path: appPath(id) + "/connect", out: &conn}); err != nil {
		return err
	}
	notice := ""
	if c.QueryParam("done") == "saved" {
		notice = i18n.From(ctx).T("console.apps.saved")
	}
	return k.render(c, http.StatusOK, "admin-app", s, map[string]any{"Section": "apps", "App": app, "Connect": conn,
		"Secret": secret, "Until": until, "Notice": notice, "Base": Path + "/apps/" + url.PathEscape(id)})
}

func (k *Console) appShow(c echo.Context, s *session) error {
	return k.showApp(c, s, c.Param("id"), "", nil)
}

func (k *Console) appEdit(c echo.Context, s *session) error {
	var app admin.App
	if _, err := k.api.do(c.Request().Context(), s, call{method: http.MethodGet, path: appPath(c.Param("id")), out: &app}); err != nil {
		return err
	}
	return k.renderForm(c, s, http.StatusOK, formOf(app), true, nil)
}

func (k *Console) appUpdate(c echo.Context, s *session) error {
	ctx := c.Request().Context()
	f := readForm(c)
	f.ID = c.Param("id")
	var app admin.App
	if _, err := k.api.do(ctx, s, call{method: http.MethodGet, path: appPath(f.ID), out: &app}); err != nil {
		return err
	}
	f.Public = app.Public // fixed at creation
	p := noProblems()
	ch := f.change(i18n.From(ctx), p)
	if p.any() {
		return k.renderForm(c, s, http.StatusBadRequest, f, true, p)
	}
	p, err := k.api.do(ctx, s, call{method: http.MethodPatch, path: appPath(f.ID), idem: c.Request().PostFormValue("idem"), in: ch})
	if err != nil {
		return err
	}
	if p != nil {
		return k.renderForm(c, s, http.StatusBadRequest, f, true, p.claim(appFields...))
	}
	return see(c, Path+"/apps/"+url.PathEscape(f.ID)+"?done=saved")
}

func (k *Console) appDeleteConfirm(c echo.Context, s *session) error {
	var app admin.App
	if _, err := k.api.do(c.Request().Context(), s, call{method: http.MethodGet, path: appPath(c.Param("id")), out: &app}); err != nil {
		return err
	}
	return k.render(c, http.StatusOK, "admin-app-delete", s, map[string]any{"Section": "apps", "App": app,
		"Action": Path + "/apps/" + url.PathEscape(app.ID) + "/delete", "Back": Path + "/apps/" + url.PathEscape(app.ID)})
}

func (k *Console) appDelete(c echo.Context, s *session) error {
	id := c.Param("id")
	p, err := k.api.do(c.Request().Context(), s, call{method: http.MethodDelete, path: appPath(id), idem: c.Request().PostFormValue("idem")})
	if err != nil {
		return err
	}
	if p != nil {
		return k.render(c, http.StatusBadRequest, "admin-app-delete", s, map[string]any{"Section": "apps",
			"App": admin.App{AppSettings: admin.AppSettings{ID: id}}, "Problems": p.claim(),
			"Action": Path + "/apps/" + url.PathEscape(id) + "/delete", "Back": Path + "/apps/" + url.PathEscape(id)})
	}
	return see(c, Path+"/apps?done=deleted")
}

func (k *Console) renderSecretForm(c echo.Context, s *session, status int, app admin.App, p *problems) error {
	return k.render(c, status, "admin-app-secret", s, map[string]any{"Section": "apps", "App": app, "Problems": p,
		"Graces": graceChoices, "Action": Path + "/apps/" + url.PathEscape(app.ID) + "/secret",
		"Back": Path + "/apps/" + url.PathEscape(app.ID)})
}

func (k *Console) appSecretForm(c echo.Context, s *session) error {
	var app admin.App
	if _, err := k.api.do(c.Request().Context(), s, call{method: http.MethodGet, path: appPath(c.Param("id")), out: &app}); err != nil {
		return err
	}
	return k.renderSecretForm(c, s, http.StatusOK, app, nil)
}

func (k *Console) appSecret(c echo.Context, s *session) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	p := noProblems()
	grace, err := strconv.ParseInt(c.Request().PostFormValue("grace_period"), 10, 64)
	if err != nil {
		p.Fields["grace_period"] = []string{i18n.From(ctx).T("console.apps.whole_number")}
	}
	var out admin.NewSecret
	if !p.any() {
		p, err = k.api.do(ctx, s, call{method: http.MethodPost, path: appPath(id) + "/secret", idem: c.Request().PostFormValue("idem"),
			in: map[string]int64{"grace_period": grace}, out: &out})
		if err != nil {
			return err
		}
	}
	if p != nil {
		var app admin.App
		if _, err := k.api.do(ctx, s, call{method: http.MethodGet, path: appPath(id), out: &app}); err != nil {
			return err
		}
		return k.renderSecretForm(c, s, http.StatusBadRequest, app, p.claim("grace_period"))
	}
	var until any
	if out.PreviousSecretUntil != nil {
		until = *out.PreviousSecretUntil
	}
	return k.showApp(c, s, id, out.ClientSecret, until)
}
