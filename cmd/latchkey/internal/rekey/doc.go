// Package rekey re-seals what Latchkey stores under LATCHKEY_SECRET when
// the secret changes (`latchkey secret rotate`).
//
// What it re-seals, row by row (the long-lived values):
//   - oidc_signing_keys.private_key_enc (box "signing-keys", aad kid)
//   - sspr_methods.data (box "method/<kind>", aad id): TOTP seeds, email
//     addresses, phone numbers, push device keys, security answers; and
//     sspr_methods.destination_key, the keyed hash of the address, number
//     or device key, recomputed from the opened value
//   - sspr_outbox.body (box "outbox", aad id): queued messages
//   - push_subscriptions.data (box "method/push", aad "webpush|"+device)
//
// What it leaves to age out, opened or verified under
// LATCHKEY_SECRET_PREVIOUS meanwhile: recovery flows, pending
// registrations, challenges and their code HMACs, captchas, authorization
// codes, rate-limit and lockout keys (minutes to hours), and refresh
// tokens (found under either hash until used; a rotated one is hashed
// under the new secret). Client secrets are keyed hashes too: each one is
// re-hashed at the client's next successful use, so keep the previous
// secret until every confidential client has authenticated once or
// regenerate the secrets of idle clients.
//
// The work is resumable: rows are processed in batches ordered by their
// key, each batch in one transaction that also records how far it got in
// latchkey_secret_rotation (against the new secret's fingerprint), and a
// row that already opens under the new secret is skipped, so running the
// command again after an interruption finishes the job.
package rekey
