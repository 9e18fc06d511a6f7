// Package questions is the security-questions method: a built-in pool of
// questions plus up to 20 admin-defined ones; the user answers the number
// the policy asks for, and at recovery a subset, chosen per user and kept
// until answered correctly, is asked.
//
// Answers are compared after NFKC + Unicode case folding with leading and
// trailing space trimmed and internal spacing kept exactly ("Blue" matches
// "bLUE", "Blue  Sky" does not match "Blue Sky"), and are stored only as
// argon2id hashes (checklist I 55-57). Questions count as knowledge, never
// as possession: the policy never lets them suffice alone.
package questions
