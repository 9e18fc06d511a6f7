// Package seed fills a migrated database fast, for tests and benchmarks
// that need many users or tokens: multi-row INSERTs in transactions, one
// shared password hash instead of one argon2id per user. It is never used
// by the server itself.
package seed
