package db

// Queued reports how many jobs wait for w's next transaction.
func Queued(w *Writer) int { return len(w.jobs) }

// Commits reports how many transactions w's batching goroutine has begun.
func Commits(w *Writer) int64 { return w.commits.Load() }
