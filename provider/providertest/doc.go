// Package providertest starts a complete Latchkey provider for tests: a
// migrated database from dbtest, a user with a known password, a set of
// registered clients, the real Echo server over TLS (httptest), a browser
// that follows redirects and submits the real forms, and an independent
// relying party built on coreos/go-oidc and x/oauth2.
//
// The SSPR plugin's and cmd's end-to-end tests reuse it.
package providertest
