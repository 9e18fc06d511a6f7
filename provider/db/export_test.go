package db

// Queued reports how many jobs wait for w's next transaction.
func Queued(w *Writer) int { return len(w.jobs) }

// Transactions reports how many transactions w has begun.
func Transactions(w *Writer) int64 { return w.txs.Load() }

// Statements reports how many statements w has run.
func Statements(w *Writer) int64 { return w.execs.Load() }
