// Package secret turns LATCHKEY_SECRET into purpose-bound keys: an AES-GCM
// box for secrets at rest (signing keys, TOTP seeds, queued messages) and
// HMACs for one-time codes and fingerprints. Each purpose gets its own key
// derived with HKDF, so a value sealed for one purpose never opens for another.
//
// While the secret is rotated, a Keyring made WithPrevious also opens and
// verifies under LATCHKEY_SECRET_PREVIOUS; it always seals and MACs under
// the current secret only.
package secret
