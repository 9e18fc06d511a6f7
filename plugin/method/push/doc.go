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

// Wiring (cmd): build the method, register it with the others, mount its
// device API on the provider's root group, and clean up periodically:
//
//	pm, err := push.New(g, enrollments, keys, push.Config{Issuer: issuer, Audit: auditLog})
//	registry, err := method.NewRegistry(totpMethod, pm, ...)
//	pm.Routes(e.Group(""))                        // /authenticator, /authenticator/api/*
//	pm.Cleanup(ctx, time.Now().Add(-24*time.Hour)) // e.g. hourly
//	pm.Wait()                                     // at shutdown: pending Web Push deliveries
//
// The waiting page: Prompt.Kind "number" carries Number (show it) and Poll
// (a JSON status URL). Put it on the form as data-push-poll and load
// /static/authenticator/wait.js, which submits the form once the user
// answered on the device; the form's own button ("I approved it,
// continue") is the no-JavaScript way on. Verify returns Result.Pending
// while no answer is in, which is not a failure. Registration: Prompt.Kind
// "push" carries QRCode and Link; the user scans it, then types the
// pairing code the app shows into field "code".
