// Package plugin is Latchkey's self-service password reset (SSPR): the
// /recover flows (reset and unlock), the /security-info page where users
// register their verification methods, the forced-registration hook the
// provider calls after a password sign-in, and the admin commands for the
// policy and for methods.
//
// It reaches the OIDC side only through the SignIn interface defined here
// (the provider implements it; cmd wires the two), so it never imports
// zitadel/oidc and can be mounted in another Echo application. A test runs
// `go list -deps ./plugin/...` and fails if zitadel appears.
package plugin
