// Package opstore is the zitadel/oidc op.Storage of Latchkey on GORM
// (SQLite and MySQL): clients, authorization requests, codes, access and
// refresh tokens, consents, and the glue to provider/keys.
//
// The library leaves the security of one-time credentials to its storage,
// so this package makes every one of them single-use with a conditional
// UPDATE (… WHERE used_at IS NULL, RowsAffected == 1):
//   - a code is consumed in AuthRequestByCode; presenting it again revokes
//     every token issued from its grant (RFC 6749 §4.1.2);
//   - a refresh token rotates in CreateAccessAndRefreshTokens; presenting
//     a used one revokes its whole family (RFC 9700 §4.14.2).
//
// Codes, refresh tokens and client secrets are stored only as HMAC-SHA256
// keyed with LATCHKEY_SECRET. Token and request IDs come from
// crypto/rand.Text and never contain ':' (the library splits opaque tokens
// on it).
//
// The library asks for the signing key without saying which client it signs
// for. Interceptor puts a per-request holder in the context that the
// storage fills when the token endpoint loads the client, so SigningKey can
// honour a client's id_token_alg (ES256). Without the interceptor every
// token is signed with RS256.
package opstore
