// Package db opens Latchkey's database (embedded SQLite or MySQL/MariaDB)
// and runs versioned migrations safely when several instances start at once.
//
// SQLite is modernc.org/sqlite (pure Go, no cgo), at least MinSQLiteVersion,
// behind the github.com/libtnb/sqlite GORM dialector; see sqlite.go.
//
// Every table is created with a byte-exact, no-pad collation on MySQL so that
// identifiers, token hashes and normalised usernames compare exactly as they
// do on SQLite.
package db
