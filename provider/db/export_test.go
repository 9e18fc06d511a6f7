package db

// Queued reports how many jobs wait for w's next transaction.
func Queued(w *Writer) int { return len(w.jobs) }

// Transactions reports how many transactions w has begun.
func Transactions(w *Writer) int64 { return w.txs.Load() }
