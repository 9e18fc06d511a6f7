// Package sender delivers messages (email now; SMS and voice calls in
// issue 4) through a durable queue: Enqueue stores the message sealed in
// sspr_outbox, often inside the caller's transaction, and a dispatcher
// goroutine sends it later. Sends are never inline with an HTTP request, so
// a real user and a decoy take the same time to answer.
//
// Implementations live in sub-packages: smtp (go-mail), outbox (dev mode
// and tests: keeps messages in memory and serves /dev/outbox).
package sender
