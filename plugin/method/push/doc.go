// Package push is the "mobile app notification" method: the Latchkey
// Authenticator (the `latchkey authenticator` command or the web app under
// /static/authenticator/) approves a sign-in with number matching.
//
// Enrollment: Begin makes a one-time enrollment link (10 minutes, single
// use) shown as a QR code. The device generates a P-256 key, keeps the
// private key, and posts its public key to the link in a JWS signed by that
// key (proof of possession). Finish turns the used link into an
// Enrollment whose ID is the device ID.
//
// Challenge: the page shows a two-digit number from crypto/rand; the
// device never receives it. The device long-polls for pending requests
// with a short-lived, single-use bearer token it signs itself (ES256), sees
// the app, time and approximate place, and sends a decision signed with its
// key over the challenge ID, the decision and the number the user typed. A
// wrong number, a denial and expiry end the challenge; a decision can be
// made once, so a replayed approval fails. "Deny, and report it" audits a
// fraud report and blocks pushes for the account for Config.ReportBlock.
//
// Push bombing (checklist 49): one pending push per flow, at most 3 pushes
// per user per 15 minutes and 10 per day, counted since the last success;
// the next one is refused before anything is sent. Pushes expire after 2
// minutes.
package push
