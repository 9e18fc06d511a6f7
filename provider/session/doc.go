// Package session keeps browser single-sign-on sessions: a server-side row in
// user_sessions per signed-in browser, found by the SHA-256 of an opaque
// 256-bit cookie token. The cookie value never reaches the database, so a
// leaked table cannot be replayed as cookies.
//
// It imports nothing from zitadel: the SSPR plugin may use it through the
// provider's SignIn contract without pulling in the OP.
package session
