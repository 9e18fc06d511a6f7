// Package audit is Latchkey's append-only log of security events: sign-ins
// and their failures, lockouts, unlocks, password resets, recovery steps,
// methods added and removed, administrator actions.
//
// Events are only ever inserted; nothing in this package updates or
// deletes them. Detail is short free text or JSON for people reading the
// log and must NEVER contain a secret: no password, code, token, security
// answer or TOTP seed, not even a hash of one. Event has no field meant for
// such a value, and a test keeps it that way.
package audit
