// Package web is the HTTP plumbing shared by the provider's pages and the
// SSPR plugin: security headers, no-store, CSRF, cookies, client IP behind
// trusted proxies, Host checking and one error handler that shows people a
// friendly page and API clients an OAuth-shaped JSON error.
//
// It must not import zitadel: the plugin depends on it.
package web
