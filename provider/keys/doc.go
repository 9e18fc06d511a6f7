// Package keys manages the provider's token signing keys: stored in the
// database with their private parts sealed by LATCHKEY_SECRET, parsed once
// and cached in memory, rotated without breaking tokens already issued, and
// published as a prepared JWKS document.
//
// Every instance on one database converges on the same keys: each
// refreshes its cache every RefreshEvery (30 s) and at once after it rotates
// itself. A rotated-in key is published at once and signs only after the
// publish-ahead period (DefaultPublishLead, 15 min), longer than every cache
// a key set passes through, so no instance signs with a key that another
// instance's JWKS, or an HTTP cache of it, does not list yet. The signer and
// the JWKS come from the same cached snapshot. An (alg, generation) unique
// index lets exactly one of several instances create or rotate a key at the
// same moment.
//
// The package uses go-jose types only; the zitadel interfaces (op.SigningKey,
// op.Key) are satisfied structurally and asserted in provider/opstore.
package keys
