// Package ratelimit counts events per (scope, key) in the database, so a
// limit such as "at most 10 emails to one address in 10 minutes" holds
// across every instance sharing it. Windows are sliding: each is split into
// ten buckets and every bucket that overlaps the window counts in full, so
// no window of that length ever sees more than the limit.
package ratelimit
