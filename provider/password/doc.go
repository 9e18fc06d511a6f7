// Package password hashes and checks human passwords.
//
// Hasher stores new passwords as Argon2id in PHC string form
// ($argon2id$v=19$m=19456,t=2,p=1$salt$hash) and verifies both those and
// imported bcrypt hashes ($2a$, $2b$, $2y$), reporting when a stored hash
// should be upgraded to the current parameters. Hashing is memory-hard
// (19 MiB each by default), so a Hasher runs at most GOMAXPROCS of them at
// once; a burst of sign-ins queues instead of ballooning memory.
//
// Policy decides whether a new password is acceptable, following NIST SP
// 800-63B and ASVS 5: a length range counted in code points after NFKC, a
// blocklist of common passwords and context words, and no composition
// rules. Strength gives the 0..4 score shown by the strength meter.
//
// Every password is normalised with NFKC before hashing and verifying, and
// nothing else: no case change, no trimming, no truncation.
package password
