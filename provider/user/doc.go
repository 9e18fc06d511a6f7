// Package user is Latchkey's user directory: accounts, groups, password
// sign-in with smart lockout, and the one normaliser used for every
// username and email lookup.
//
// Directory is the narrow interface the provider and the SSPR plugin use;
// Store implements it on GORM (SQLite or MySQL). A directory backend such
// as LDAP can implement Directory later without touching its consumers.
//
// Lookups compare Normalize(input) byte-exactly with the stored
// UsernameKey/EmailKey (MySQL tables use a binary, no-pad collation), so
// "ALICE", "alice " and fullwidth "ａｌｉｃｅ" find alice while "alíce" and
// "alıce" find nobody, on every database.
package user
