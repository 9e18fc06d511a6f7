// Package provider is Latchkey's OpenID provider as an HTTP application: it
// builds the zitadel/oidc provider on the GORM storage (provider/opstore),
// mounts it with the sign-in, consent, logout and account pages on Echo,
// keeps browser single-sign-on sessions (provider/session), and implements
// the SignIn contract the SSPR plugin uses to sign a browser in after a
// recovery and continue the waiting authorization request.
//
// zitadel types stay inside this package and provider/opstore.
package provider
