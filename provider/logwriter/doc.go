// Package logwriter is the process log's output: lines written through
// Async are copied into memory and written out by one goroutine, so a
// request that logs never waits for the terminal, pipe or disk; lines
// written through Direct (start-up, warnings) go out at once, after
// everything buffered before them, so the order of lines is kept. Close
// writes out what is left; nothing written before or after it is lost.
package logwriter
