// Package cachever tells instances sharing one database when their
// in-memory caches (clients, signing keys) went stale. Every change to a
// cached table bumps a counter row in latchkey_cache_versions inside the
// same transaction; each instance reads the counters at most once per
// check interval and reloads a cache whose counter moved. A change is so
// seen by every instance within one interval, at the cost of one tiny
// SELECT per interval instead of one per request. The same rows carry
// cluster-wide settings every instance must agree on (the opaque token
// format during a rolling upgrade), set by Set.
package cachever
