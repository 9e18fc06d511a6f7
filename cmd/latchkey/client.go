package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/ui"
)

type clientCmd struct {
	Create clientCreateCmd `cmd:"" help:"Register a client. Confidential clients get a secret: given on stdin, or generated and printed once."`
	List   clientListCmd   `cmd:"" help:"List clients."`
	Update clientUpdateCmd `cmd:"" help:"Change a client's name, logo or admin API access."`
	Show   clientShowCmd   `cmd:"" help:"Show one client."`
	Delete clientDeleteCmd `cmd:"" help:"Delete a client, revoking its tokens and consents."`
}

type clientCreateCmd struct {
	ID                    string   `required:"" help:"Client ID (letters, digits, '.', '_', '-')."`
	Name                  string   `required:"" help:"Name shown on the sign-in and consent pages."`
	RedirectURI           []string `name:"redirect-uri" help:"Redirect URI, compared exactly (repeatable)."`
	PostLogoutRedirectURI []string `name:"post-logout-redirect-uri" help:"Post-logout redirect URI (repeatable)."`
	ThirdParty            bool     `name:"third-party" help:"Ask the user's consent before the client gets a code."`
	Grant                 []string `enum:"authorization_code,refresh_token,client_credentials" help:"Grant type (repeatable). Default: authorization_code + refresh_token with redirect URIs, else client_credentials."`
	SecretStdin           bool     `name:"secret-stdin" xor:"kind" required:"" help:"Confidential client: read the secret (at least 32 random characters) from stdin; an empty stdin generates one."`
	Public                bool     `xor:"kind" required:"" help:"Public client (SPA, native app): no secret, PKCE S256 required."`
	IDTokenAlg            string   `name:"id-token-alg" enum:"RS256,ES256" default:"RS256" help:"ID token signature algorithm."`
	AccessTokenType       string   `name:"access-token-type" enum:"opaque,jwt" default:"opaque" help:"Access token format."`
	LogoURI               string   `name:"logo-uri" help:"The app's logo on its sign-in page: a base64 data:image URL or a URL on the issuer's origin."`
	AdminAPI              bool     `name:"admin-api" help:"Let this client's client-credentials tokens carry the scope latchkey:admin (the admin API). Needs --grant client_credentials."`
}

func (c *clientCreateCmd) Run(a *app) error {
	st, err := a.clientStore()
	if err != nil {
		return err
	}
	nc := opstore.NewClient{
		ID: c.ID, Name: c.Name, RedirectURIs: c.RedirectURI, PostLogoutRedirectURIs: c.PostLogoutRedirectURI,
		GrantTypes: c.Grant, Public: c.Public, ThirdParty: c.ThirdParty,
		IDTokenAlg: c.IDTokenAlg, AccessTokenType: c.AccessTokenType, LogoURI: c.LogoURI,
		AdminAPI: c.AdminAPI,
	}
	if err := a.checkClientLogo(c.LogoURI); err != nil {
		return err
	}
	a.clientTTLs(&nc)
	given := false
	if c.SecretStdin {
		if nc.Secret, err = a.readOptionalSecret(); err != nil {
			return err
		}
		given = nc.Secret != ""
	}
	cl, secretValue, err := st.CreateClient(a.ctx, nc)
	switch {
	case errors.Is(err, opstore.ErrInvalid):
		return usageError{err}
	case errors.Is(err, opstore.ErrExists):
		return usageError{fmt.Errorf("client %q already exists", c.ID)}
	case err != nil:
		return err
	}
	a.audit("admin.client.create", "", "ok", "client="+cl.GetID())
	fmt.Fprintf(a.stdout, "created client %s (%s)\n", cl.GetID(), clientKind(cl))
	switch {
	case secretValue == "":
	case given:
		fmt.Fprintln(a.stdout, "client secret: as given on stdin (only its keyed hash is stored)")
	default:
		// The only time the secret exists in clear outside the client.
		fmt.Fprintf(a.stdout, "client secret (shown once, store it now): %s\n", secretValue)
	}
	return nil
}

// clientTTLs applies the configured token lifetimes to a new client.
func (a *app) clientTTLs(nc *opstore.NewClient) {
	nc.AccessTokenTTL = a.cfg.AccessTokenLifetime
	nc.IDTokenTTL = min(a.cfg.IDTokenLifetime, opstore.MaxTokenTTL)
	nc.RefreshMaxTTL = a.cfg.RefreshTokenLifetime
	nc.RefreshIdleTTL = min(opstore.DefaultRefreshIdle, a.cfg.RefreshTokenLifetime)
}

// readOptionalSecret reads a secret line; an empty stdin is allowed.
func (a *app) readOptionalSecret() (string, error) {
	s, err := a.readSecret("secret")
	var ue usageError
	if errors.As(err, &ue) {
		return "", nil
	}
	return s, err
}

// checkClientLogo refuses a logo the pages' CSP would block (another
// host): the same rule as LATCHKEY_BRAND_LOGO_URL.
func (a *app) checkClientLogo(v string) error {
	if msg := ui.LogoProblem(v, a.cfg.Issuer); msg != "" {
		return usageError{fmt.Errorf("--logo-uri: %s", msg)}
	}
	return nil
}

type clientUpdateCmd struct {
	ID      string  `arg:"" help:"Client ID."`
	Name    *string `help:"Name shown on the sign-in and consent pages."`
	LogoURI *string `name:"logo-uri" help:"The app's logo on its sign-in page (a base64 data:image URL or a URL on the issuer's origin); empty removes it."`
	// AdminAPI is tri-state: absent leaves the flag, --admin-api sets it,
	// --no-admin-api clears it.
	AdminAPI *bool `name:"admin-api" negatable:"" help:"Let (or, with --no-admin-api, stop letting) this client's client-credentials tokens carry latchkey:admin."`
}

func (c *clientUpdateCmd) Run(a *app) error {
	if c.LogoURI != nil {
		if err := a.checkClientLogo(*c.LogoURI); err != nil {
			return err
		}
	}
	st, err := a.clientStore()
	if err != nil {
		return err
	}
	cl, err := st.UpdateClient(a.ctx, c.ID, opstore.ClientChange{Name: c.Name, LogoURI: c.LogoURI, AdminAPI: c.AdminAPI})
	switch {
	case errors.Is(err, opstore.ErrNotFound):
		return fmt.Errorf("no client %q", c.ID)
	case errors.Is(err, opstore.ErrInvalid):
		return usageError{err}
	case err != nil:
		return err
	}
	a.audit("admin.client.update", "", "ok", "client="+cl.GetID())
	fmt.Fprintf(a.stdout, "updated client %s\n", cl.GetID())
	return nil
}

type clientListCmd struct{}

func (c *clientListCmd) Run(a *app) error {
	st, err := a.clientStore()
	if err != nil {
		return err
	}
	list, err := st.ListClients(a.ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tKIND\tGRANTS\tREDIRECT URIS")
	for _, cl := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", cl.GetID(), cl.GetName(), clientKind(cl),
			strings.Join(cl.GrantTypeNames(), ","), strings.Join(cl.RedirectURIs(), " "))
	}
	return w.Flush()
}

type clientShowCmd struct {
	ID string `arg:"" help:"Client ID."`
}

func (c *clientShowCmd) Run(a *app) error {
	st, err := a.clientStore()
	if err != nil {
		return err
	}
	cl, err := st.ClientByID(a.ctx, c.ID)
	if errors.Is(err, opstore.ErrNotFound) {
		return fmt.Errorf("no client %q", c.ID)
	}
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(w, "%s:\t%s\n", k, v) }
	row("id", cl.GetID())
	row("name", cl.GetName())
	row("kind", clientKind(cl))
	row("grants", strings.Join(cl.GrantTypeNames(), ", "))
	row("redirect uris", strings.Join(cl.RedirectURIs(), " "))
	row("post-logout redirect uris", strings.Join(cl.PostLogoutRedirectURIs(), " "))
	row("admin api", yesNo(cl.AdminAPI()))
	row("id token alg", cl.IDTokenAlg())
	row("access token lifetime", cl.AccessTokenTTL().String())
	row("id token lifetime", cl.IDTokenLifetime().String())
	row("refresh idle / max", cl.RefreshIdleTTL().String()+" / "+cl.RefreshMaxTTL().String())
	if l := cl.LogoURI(); len(l) > 80 {
		row("logo uri", l[:60]+"…")
	} else if l != "" {
		row("logo uri", l)
	}
	row("created", stamp(cl.CreatedAt()))
	return w.Flush()
}

type clientDeleteCmd struct {
	ID string `arg:"" help:"Client ID."`
}

func (c *clientDeleteCmd) Run(a *app) error {
	st, err := a.clientStore()
	if err != nil {
		return err
	}
	if err := st.DeleteClient(a.ctx, c.ID); errors.Is(err, opstore.ErrNotFound) {
		return fmt.Errorf("no client %q", c.ID)
	} else if err != nil {
		return err
	}
	a.audit("admin.client.delete", "", "ok", "client="+c.ID)
	fmt.Fprintf(a.stdout, "deleted client %s; its tokens are revoked\n", c.ID)
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func clientKind(cl *opstore.Client) string {
	k := "confidential"
	if cl.IsPublic() {
		k = "public"
	}
	if cl.IsThirdParty() {
		k += ", third-party"
	}
	if cl.AdminAPI() {
		k += ", admin API"
	}
	return k
}
