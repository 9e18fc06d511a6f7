// Package phone is the three phone verification methods of issue 4:
// mobile phone (a code by text message or by call, the user's choice at
// each challenge), alternate phone (call only) and office phone (call
// only, with an extension dialled as DTMF after the line answers).
//
// Numbers are parsed and classified with github.com/nyaruka/phonenumbers,
// stored sealed in E.164 and shown masked (+1 ••• ••• ••42). Premium-rate,
// shared-cost, pager, UAN, personal, voicemail and unknown-type numbers are
// refused at registration (checklist 50). Every send goes through a Guard
// that, before any gateway call, refuses countries outside the policy's
// allowlist (51) and applies the toll-fraud limits: per number, per user,
// per client IP, per calling code, a global hourly budget with a circuit
// breaker, and a resend cool-down (52, 53); each attempt is audited.
//
// Sends are made while the user waits rather than queued, so a gateway
// failure becomes a *DeliveryError the page can show ("pick another
// method") and the challenge is withdrawn: no half-made challenge remains.
// Codes use the shared engine of plugin/method (8 digits, HMAC-stored,
// 10 minutes, 5 tries, resend keeps the count).
package phone
