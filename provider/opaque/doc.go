// Package opaque seals the values the OIDC library hands out as opaque
// strings: access tokens (the token's ID and subject) and authorization
// codes (the request's ID). They are XChaCha20-Poly1305 boxes under a key
// derived from LATCHKEY_SECRET, written as "lk2." and base64url.
//
// The library's own format, an AES-GCM JWE with a wrapped content key,
// costs two AEADs, JSON headers and about a hundred allocations per token:
// a quarter of an opaque client-credentials request's CPU. The box here is
// one AEAD over a random 192-bit nonce, so the number of tokens sealed
// under one key is never a concern (AES-GCM's random 96-bit nonces are
// good for about 2^32 of them). Values in the library's format, issued
// before this one or by an instance not yet upgraded, still open.
//
// An instance of an older release opens only the library's format, so
// during a rolling upgrade the fleet keeps minting it (MintFormat, read
// from a cluster-wide setting) until the operator says every instance
// runs this release: `latchkey keys opaque-format lk2`.
package opaque
