// Package totp is the authenticator-app method: RFC 6238 codes (SHA-1,
// 6 digits, 30-second steps, github.com/pquerna/otp) from a 160-bit seed
// made with crypto/rand, enrolled by QR code or by typing the secret,
// proven by a first code, and sealed at rest (AES-GCM under
// LATCHKEY_SECRET). One step of clock skew either way is accepted; a code
// of the same or an earlier step than the last accepted one fails, and is
// reported as a replay so the flow can audit it and notify the user
// (checklist 45-47).
package totp
