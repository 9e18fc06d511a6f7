// Package flow is the server-side record of one SSPR flow (a recovery, a
// step-up on /security-info, or a registration) and its state machine. It
// knows no HTTP and no OIDC: handlers ask it whether a step is allowed now,
// move it, and persist it with an optimistic version check, so two racing
// requests cannot both advance the same flow. README.md draws the machine.
package flow
