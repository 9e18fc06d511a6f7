// Package plugin is Latchkey's self-service password reset (SSPR): the
// /recover flows (reset and unlock, with decoy flows for names that cannot
// recover), the /security-info page where users register their
// verification methods (step-up, add, delete, cool-down), and the
// forced-registration hook the provider calls after a password sign-in.
//
// It reaches the OIDC side only through the SignIn interface defined here
// (the provider implements it; cmd connects the two), so it never imports
// zitadel/oidc, the provider root, its OP storage or its session store, and
// can be mounted in another Echo application. TestNoZitadel runs
// `go list -deps ./plugin/...` and fails if one appears.
//
// Files: plugin.go (Deps, Mount, routes), recover.go (start, choice,
// method), verify.go (proofs, policy check, amr), reset.go (the one
// transaction, unlock), decoy.go, notify.go (mails, "This wasn't me"),
// securityinfo.go (/security-info, AfterSignIn), form.go (strict forms).
// The flow record and its state machine are in plugin/flow, the policy in
// plugin/policy. Every answer to a challenge (recovery, step-up, a new
// method's confirmation) is judged by plugin/proof, which claims a try
// before any method sees it; handlers only word its verdicts.
package plugin
