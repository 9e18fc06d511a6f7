// Package admin is Latchkey's admin API: JSON under /admin/api/v1, described
// by the OpenAPI document at /admin/api/openapi.json.
//
// Every request carries a bearer access token issued by this Latchkey with
// the scope latchkey:admin: a client-credentials token of a client
// registered for the admin API, or an admin's own token from a fresh
// sign-in with two proofs. Errors are RFC 9457 problem details; lists page
// with an opaque keyset cursor; writes accept an Idempotency-Key; every
// action is audited with the actor and the client IP.
//
// The package knows nothing of zitadel/oidc or of the OP's storage: cmd
// hands it the token verifier and the apps store through the interfaces
// defined here.
package admin
