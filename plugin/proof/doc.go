// Package proof is the one engine behind every page that asks for a proof:
// a recovery's verify step, the step-up on Security info and the
// confirmation of a new method. Each answer goes the same way:
//
//	load the flow → step allowed? → subject blocked? → issue or open the
//	challenge → claim a try (per challenge, in the database) → the method's
//	verifier → count the failure, report a replay, or record the proof
//
// Nothing is judged before a try is claimed, and a try is claimed with one
// conditional UPDATE, so however many answers arrive at once a challenge is
// judged at most MaxTries times; the subject's failure budget
// (flow.Failures) is reserved the same way. Flow states change only through
// the flow's own state machine. The engine knows no HTTP: handlers call it
// and render what it returns. It takes method.Method values, never names,
// so which methods exist is the caller's registry's business.
package proof
