package db

// Queued reports how many jobs wait for w's next transaction.
func Queued(w *Writer) int { return len(w.jobs) }
