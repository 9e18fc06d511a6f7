package user

import (
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Normalize returns the lookup key of a username, email address or group
// name: NFKC, then Unicode full case folding, then NFKC again (folding can
// produce decomposed text, for example İ → i + U+0307), then surrounding
// white space trimmed. It is the only normaliser used for registration and
// lookup, so the two can never disagree (GitHub's 2019 dotless-i reset
// bug came from two that did).
//
// Folding is the locale-independent default: "ı" (dotless i) stays "ı" and
// therefore never matches "i".
func Normalize(s string) string {
	// Invalid UTF-8 first becomes U+FFFD, as case folding would make it
	// later anyway: otherwise a byte that NFKC keeps changes what the runes
	// after it fold to between passes (found by FuzzNormalize).
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = norm.NFKC.String(s)
	s = cases.Fold().String(s) // a Caser is not safe for concurrent use: one per call
	s = strings.Map(cherokeeUpper, s)
	s = norm.NFKC.String(s)
	return strings.TrimSpace(s)
}

// cherokeeUpper fixes the one place where golang.org/x/text's Fold differs
// from Unicode's CaseFolding.txt (found by FuzzNormalize): Cherokee folds
// to its capital letters, but Fold lower-cases them, so "Ꮃ" and "ꮃ" would
// swap on every pass and never share a key.
func cherokeeUpper(r rune) rune {
	if (r >= 0xAB70 && r <= 0xABBF) || (r >= 0x13F8 && r <= 0x13FD) {
		return unicode.ToUpper(r)
	}
	return r
}

// NameKey is the search key of a display name: Normalize, cut to
// MaxDisplayName code points (the column's size; NFKC can lengthen text),
// so a prefix of the name always finds it.
func NameKey(displayName string) string {
	k := Normalize(displayName)
	if r := []rune(k); len(r) > MaxDisplayName {
		k = strings.TrimSpace(string(r[:MaxDisplayName]))
	}
	return k
}
