// Package console is the admin console at /admin: server-rendered pages
// for people, over the admin API.
//
// The console is an OpenID Connect client of this very Latchkey (code flow
// with PKCE S256, state and nonce, acr_values=2 and max_age=900), so an
// admin reaches it only through the ordinary sign-in page with two proofs
// within the last 15 minutes. Its own session is a sealed cookie scoped to
// /admin; the access token inside never reaches the browser in clear.
// Every action calls the admin API with the admin's token, in-process
// (Transport serves the request with the issuer's own handler), so there
// is no second code path and a public issuer URL behind a proxy works.
//
// Adding a page: a line in routes() (every route is behind the same gate:
// fresh two-proof admin session, CSRF and Origin on forms), its handler
// calling the API through api.do, a template admin-<page>.html that starts
// with the "admin-nav" part, its words in the console catalogs, and, for a
// new area, an entry in sections.
//
// The package knows nothing of zitadel/oidc: it is a relying party built on
// github.com/coreos/go-oidc and golang.org/x/oauth2.
package console
