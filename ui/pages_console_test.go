package ui

import (
	"time"

	"github.com/latchkeyid/latchkey/ui/i18n"
)

// consoleProblems stands for the console's problems in the page cases:
// the templates ask it for each field's messages.
type consoleProblems struct {
	Detail string
	Other  []string
	Fields map[string][]string
}

func (p consoleProblems) Of(field string) []string { return p.Fields[field] }

// consoleApp has the fields of the admin API's app the pages show.
type consoleApp struct {
	ID, Name, LogoURI, IDTokenAlg, AccessTokenType            string
	RedirectURIs, PostLogoutRedirectURIs, GrantTypes          []string
	Public, ThirdParty, AdminAPI                              bool
	AccessTokenTTL, IDTokenTTL, RefreshIdleTTL, RefreshMaxTTL int64
}

type consoleSnippet struct{ ID, Title, Content string }

// consolePage is what every console page gets besides its own data.
func consolePage(l *i18n.Localizer, section string, m map[string]any) map[string]any {
	m["Nav"] = []map[string]any{{"Label": "console.nav.home", "Href": "/admin"}, {"Label": "console.nav.apps", "Href": "/admin/apps", "Current": section == "apps"}}
	m["CSRF"], m["Idem"], m["SignOut"] = "tok", "idem", "/admin/sign-out"
	if _, ok := m["Problems"]; !ok {
		m["Problems"] = consoleProblems{}
	}
	return m
}

func init() {
	wiki := consoleApp{ID: "wiki", Name: "Wiki", IDTokenAlg: "RS256", AccessTokenType: "opaque",
		RedirectURIs: []string{"https://wiki.example/callback"}, GrantTypes: []string{"authorization_code", "refresh_token"},
		AccessTokenTTL: 600, IDTokenTTL: 3600, RefreshIdleTTL: 86400, RefreshMaxTTL: 2592000}
	connect := map[string]any{"Issuer": "https://id.example", "DiscoveryURL": "https://id.example/.well-known/openid-configuration",
		"ClientID": "wiki", "RedirectURI": "https://wiki.example/callback",
		"Snippets": []consoleSnippet{{"go", "Go (github.com/coreos/go-oidc/v3)", "provider, err := oidc.NewProvider(ctx, \"https://id.example\")"}}}
	bad := consoleProblems{Detail: "the app has problems", Fields: map[string][]string{"redirect_uris": {`redirect URI "x": not absolute`}}}
	pageCases = append(pageCases,
		pageCase{"admin-home", "plain", func(l *i18n.Localizer) any { return consolePage(l, "home", map[string]any{}) }},
		pageCase{"admin-apps", "list", func(l *i18n.Localizer) any {
			return consolePage(l, "apps", map[string]any{"Apps": []consoleApp{wiki}, "Next": "/admin/apps?cursor=x", "Notice": l.T("console.apps.deleted")})
		}},
		pageCase{"admin-apps", "none", func(l *i18n.Localizer) any { return consolePage(l, "apps", map[string]any{}) }},
		pageCase{"admin-app", "with-secret", func(l *i18n.Localizer) any {
			return consolePage(l, "apps", map[string]any{"App": wiki, "Connect": connect, "Secret": "s3cr3t-value",
				"Until": time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC), "Base": "/admin/apps/wiki"})
		}},
		pageCase{"admin-app-form", "new-with-problems", func(l *i18n.Localizer) any {
			return consolePage(l, "apps", map[string]any{"Form": map[string]any{"ID": "wiki", "Grants": map[string]bool{"authorization_code": true},
				"TTL": map[string]string{}, "IDTokenAlg": "RS256", "AccessTokenType": "opaque"}, "Problems": bad,
				"Grants": []string{"authorization_code", "refresh_token", "client_credentials"}, "Algs": []string{"RS256", "ES256"},
				"TokenTypes": []string{"opaque", "jwt"}, "TTLs": []string{"access_token_ttl", "id_token_ttl", "refresh_idle_ttl", "refresh_max_ttl"},
				"Action": "/admin/apps/new"})
		}},
		pageCase{"admin-app-delete", "confirm", func(l *i18n.Localizer) any {
			return consolePage(l, "apps", map[string]any{"App": wiki, "Action": "/admin/apps/wiki/delete", "Back": "/admin/apps/wiki"})
		}},
		pageCase{"admin-app-secret", "form", func(l *i18n.Localizer) any {
			return consolePage(l, "apps", map[string]any{"App": wiki, "Graces": []int64{0, 3600, 86400, 604800, 2592000},
				"Action": "/admin/apps/wiki/secret", "Back": "/admin/apps/wiki"})
		}},
		pageCase{"admin-signed-out", "plain", func(*i18n.Localizer) any { return map[string]any{"SignIn": "/admin"} }},
	)
}
