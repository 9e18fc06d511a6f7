// Package policy holds the SSPR policy: who may reset, with which methods,
// how many proofs a reset needs, forced registration at sign-in, cool-down
// of new methods, notifications and the helpdesk link. It is one row in the
// database (read by the admin console later), validated as a whole, with
// defaults that follow the issue: on for everyone, email + authenticator
// app + mobile phone where their senders exist, questions off, one method.
//
// The rules that decide whether a set of proofs is enough live here too
// (Satisfied), so the flow and the tests share one definition.
package policy
