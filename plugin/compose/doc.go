// Package compose builds the SSPR plugin from its parts: the senders, the
// methods and their registry, the CAPTCHA, the outbox queue and the
// periodic cleanup. cmd (latchkey serve) and the end-to-end test harness
// both build it here, so what the tests run is what production runs.
package compose
