package admin

import (
	"bytes"
	"net/http"
	"strconv"
	"text/template"

	"github.com/labstack/echo/v4"
)

// Snippet is one ready configuration for connecting an app.
type Snippet struct {
	ID       string `json:"id"`       // oauth2-proxy, mod_auth_openidc, grafana, go, node
	Title    string `json:"title"`    // what it configures
	Language string `json:"language"` // for highlighting: toml, apache, ini, go, javascript
	Content  string `json:"content"`
}

// Connect is the "how to connect" answer for one app.
type Connect struct {
	Issuer                string    `json:"issuer"`
	DiscoveryURL          string    `json:"discovery_url"`
	ClientID              string    `json:"client_id"`
	Public                bool      `json:"public"`
	RedirectURI           string    `json:"redirect_uri"`
	AuthorizationEndpoint string    `json:"authorization_endpoint"`
	TokenEndpoint         string    `json:"token_endpoint"`
	UserInfoEndpoint      string    `json:"userinfo_endpoint"`
	EndSessionEndpoint    string    `json:"end_session_endpoint"`
	JWKSURI               string    `json:"jwks_uri"`
	Snippets              []Snippet `json:"snippets"`
}

// secretPlaceholder stands where the secret goes: it is shown only when
// the app is created or its secret regenerated.
const secretPlaceholder = "<the client secret shown when the app was created>" // #nosec G101 -- placeholder text, not a credential

var snippetTemplates = []struct {
	id, title, lang, text string
}{
	{"oauth2-proxy", "oauth2-proxy (oauth2-proxy.cfg)", "toml", `provider = "oidc"
oidc_issuer_url = {{q .Issuer}}
client_id = {{q .ClientID}}
client_secret = {{if .Public}}""{{else}}{{q .Secret}}{{end}}
redirect_url = {{q .RedirectURI}}
scope = "openid email profile"
code_challenge_method = "S256"
email_domains = ["*"]
cookie_secret = "<32 random bytes, base64: openssl rand -base64 32>"
`},
	{"mod_auth_openidc", "Apache mod_auth_openidc", "apache", `OIDCProviderMetadataURL {{.DiscoveryURL}}
OIDCClientID {{.ClientID}}
{{if not .Public}}OIDCClientSecret "{{.Secret}}"
{{end}}OIDCRedirectURI {{.RedirectURI}}
OIDCScope "openid email profile"
OIDCPKCEMethod S256
OIDCCryptoPassphrase "<a long random passphrase>"

<Location />
    AuthType openid-connect
    Require valid-user
</Location>
`},
	{"grafana", "Grafana (grafana.ini)", "ini", `[auth.generic_oauth]
enabled = true
name = Latchkey
client_id = {{.ClientID}}
client_secret = {{if not .Public}}{{.Secret}}{{end}}
scopes = openid email profile groups
auth_url = {{.AuthorizationEndpoint}}
token_url = {{.TokenEndpoint}}
api_url = {{.UserInfoEndpoint}}
use_pkce = true
login_attribute_path = preferred_username
email_attribute_path = email
groups_attribute_path = groups
`},
	{"go", "Go (github.com/coreos/go-oidc/v3 and golang.org/x/oauth2)", "go", `provider, err := oidc.NewProvider(ctx, {{q .Issuer}})
if err != nil {
	return err
}
config := oauth2.Config{
	ClientID:     {{q .ClientID}},
	ClientSecret: {{if .Public}}"", // a public client has no secret{{else}}os.Getenv("LATCHKEY_CLIENT_SECRET"),{{end}}
	Endpoint:     provider.Endpoint(),
	RedirectURL:  {{q .RedirectURI}},
	Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
}
verifier := provider.Verifier(&oidc.Config{ClientID: {{q .ClientID}}})
// Send the browser to config.AuthCodeURL(state, oauth2.S256ChallengeOption(pkceVerifier));
// on the callback: config.Exchange(ctx, code, oauth2.VerifierOption(pkceVerifier)),
// then verifier.Verify(ctx, token.Extra("id_token").(string)).
`},
	{"node", "Node.js (openid-client)", "javascript", `import * as client from 'openid-client'

const config = await client.discovery(
  new URL({{q .Issuer}}),
  {{q .ClientID}},
  {{if .Public}}undefined,
  client.None(),{{else}}process.env.LATCHKEY_CLIENT_SECRET,{{end}}
)
const redirectUri = {{q .RedirectURI}}
const codeVerifier = client.randomPKCECodeVerifier()
const url = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid email profile',
  code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
  code_challenge_method: 'S256',
})
// On the callback:
// const tokens = await client.authorizationCodeGrant(config, currentUrl, { pkceCodeVerifier: codeVerifier })
`},
}

var snippets = func() []*template.Template {
	out := make([]*template.Template, len(snippetTemplates))
	for i, s := range snippetTemplates {
		out[i] = template.Must(template.New(s.id).Funcs(template.FuncMap{"q": strconv.Quote}).Parse(s.text))
	}
	return out
}()

func (a *API) connectApp(c echo.Context) error {
	id := c.Param("id")
	app, err := a.d.Apps.App(c.Request().Context(), id)
	if err != nil {
		return appErr(err, id)
	}
	ep := a.d.Endpoints
	out := Connect{
		Issuer: ep.Issuer, DiscoveryURL: ep.Discovery, ClientID: app.ID, Public: app.Public,
		RedirectURI: "<your redirect URI, registered on the app first>", AuthorizationEndpoint: ep.Authorization,
		TokenEndpoint: ep.Token, UserInfoEndpoint: ep.UserInfo, EndSessionEndpoint: ep.EndSession, JWKSURI: ep.JWKS,
	}
	if len(app.RedirectURIs) > 0 {
		out.RedirectURI = app.RedirectURIs[0]
	}
	data := struct {
		Connect
		Secret string
	}{out, secretPlaceholder}
	for i, t := range snippets {
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return err
		}
		s := snippetTemplates[i]
		out.Snippets = append(out.Snippets, Snippet{ID: s.id, Title: s.title, Language: s.lang, Content: b.String()})
	}
	return c.JSON(http.StatusOK, out)
}
