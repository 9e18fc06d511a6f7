package password

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/latchkeyid/latchkey/provider/password/internal/zxcvbn"
	"github.com/latchkeyid/latchkey/provider/password/internal/zxcvbn/frequency"
)

// Length limits, in code points after NFKC. NIST SP 800-63B-4 requires a
// minimum of at least 8 and that at least 64 be accepted; ASVS 5 asks for
// at least 128 to be accepted, which is our upper bound.
const (
	DefaultMinLength = 8
	DefaultMaxLength = 128
	minMaxLength     = 64
)

// minContextWord is the shortest context word (username, email...) that is
// looked for inside a password; a two-letter username would otherwise rule
// out every password containing those two letters.
const minContextWord = 3

// ProductName is always a context word: a password containing it is easy to
// guess for anyone attacking this deployment.
const ProductName = "latchkey"

// Rejection codes, stable for templates and tests.
const (
	RejectTooShort     = "too-short"
	RejectTooLong      = "too-long"
	RejectInvalid      = "invalid-characters"
	RejectCommon       = "common"
	RejectContextWords = "context-word"
	RejectRepetitive   = "repetitive"
	RejectSequence     = "sequence"
	RejectGuessable    = "too-guessable"
)

// DefaultMinStrength is the lowest zxcvbn score (0-4) a new password may
// have: 2 means "somewhat guessable", about 10^8 guesses, far beyond what
// the lockout lets an online guesser try, while any 8-character random
// string or ordinary passphrase passes.
const DefaultMinStrength = 2

// Rejection says why a new password was refused. Reason is plain English
// words (logs, the command line); a page shows ID, a message ID of the
// common catalog, translated with Data (name, value pairs). Neither
// repeats the password.
type Rejection struct {
	Code   string
	Reason string
	ID     string
	Data   []any
}

func (r *Rejection) Error() string { return "password: rejected: " + r.Reason }

// Policy is the acceptance rule for new passwords. There are deliberately
// no composition rules (NIST SP 800-63B, ASVS 5 6.2.5) and no expiry.
// The zero value is the default policy.
type Policy struct {
	MinLength int // code points; values below 8 mean 8
	MaxLength int // code points; values below 64 mean 128
	// MinStrength is the lowest zxcvbn score accepted; values below 2
	// mean 2, values above 4 are refused by Validate.
	MinStrength int
}

// DefaultPolicy is min 8, max 128 code points, strength at least 2.
var DefaultPolicy = Policy{MinLength: DefaultMinLength, MaxLength: DefaultMaxLength, MinStrength: DefaultMinStrength}

func (p Policy) limits() (lo, hi int) {
	lo, hi = p.MinLength, p.MaxLength
	if lo < DefaultMinLength {
		lo = DefaultMinLength
	}
	if hi < minMaxLength {
		hi = DefaultMaxLength
	}
	return lo, hi
}

// Validate reports a configured policy that breaks the rules above, so the
// configuration is refused at start rather than silently adjusted.
func (p Policy) Validate() error {
	switch {
	case p.MinLength != 0 && p.MinLength < DefaultMinLength:
		return fmt.Errorf("password: minimum length %d is below %d", p.MinLength, DefaultMinLength)
	case p.MaxLength != 0 && p.MaxLength < minMaxLength:
		return fmt.Errorf("password: maximum length %d is below %d", p.MaxLength, minMaxLength)
	case p.MinStrength > 4:
		return fmt.Errorf("password: minimum strength %d is above the top score 4", p.MinStrength)
	}
	if lo, hi := p.limits(); lo > hi {
		return fmt.Errorf("password: minimum length %d is above the maximum %d", lo, hi)
	}
	return nil
}

// Check returns nil when pw may be set as a new password, or a *Rejection.
// context holds words a guesser would try for this account: the username,
// the email address, the display name. The email's local part and the
// product name are added automatically.
func (p Policy) Check(pw string, context ...string) error {
	if !utf8.ValidString(pw) {
		return &Rejection{RejectInvalid, "The password contains characters that cannot be used.", "common.password.invalid", nil}
	}
	nf := norm.NFKC.String(pw)
	for _, r := range nf {
		// Control characters cannot be typed in a form and break logs;
		// everything printable, spaces and emoji (with their joiners) is fine.
		if unicode.IsControl(r) {
			return &Rejection{RejectInvalid, "The password contains control characters (such as tabs or line breaks), which cannot be used.", "common.password.control", nil}
		}
	}
	n := utf8.RuneCountInString(nf)
	lo, hi := p.limits()
	if n < lo {
		return &Rejection{RejectTooShort, fmt.Sprintf("The password is too short: use at least %d characters.", lo), "common.password.too_short", []any{"Min", lo}}
	}
	if n > hi {
		return &Rejection{RejectTooLong, fmt.Sprintf("The password is too long: use at most %d characters.", hi), "common.password.too_long", []any{"Max", hi}}
	}
	folded := fold(nf)
	if isCommon(folded) {
		return &Rejection{RejectCommon, "The password is too common: it is on a list of passwords attackers try first. Choose something less predictable, for example a few unrelated words.", "common.password.common", nil}
	}
	for _, w := range contextWords(context) {
		if strings.Contains(folded, w) {
			return &Rejection{RejectContextWords, "The password contains your username, your email address or the name of this service. Choose something unrelated.", "common.password.context", nil}
		}
	}
	// The shape checks run on the NFKC, case-folded text, so "ﬀﬀﬀﬀ"
	// (which is "ffffffff" after NFKC) or "AaAaAaAa" are seen for what
	// they are; zxcvbn alone misses repeats of non-ASCII letters.
	for _, c := range cores(folded) {
		if repetitive(c) {
			return &Rejection{RejectRepetitive, "The password is mostly one or two characters, or the same few characters repeated. Choose something less predictable, for example a few unrelated words.", "common.password.repetitive", nil}
		}
		if sequence(c) {
			return &Rejection{RejectSequence, "The password is a run of consecutive letters or digits (like 1234 or abcd). Choose something less predictable, for example a few unrelated words.", "common.password.sequence", nil}
		}
	}
	if Strength(pw, context...) < max(p.MinStrength, DefaultMinStrength) {
		return &Rejection{RejectGuessable, "The password is too easy to guess. Make it longer or less predictable, for example a few unrelated words.", "common.password.guessable", nil}
	}
	return nil
}

// minCore is the shortest part of a password the shape checks judge on
// its own; shorter cores say nothing.
const minCore = 4

// cores returns the folded password and what is left of it without the
// decorations attackers' rules add around a weak core: symbols and
// spaces, and digits or symbols around letters ("abcabc!!", "aaaaaaa1").
func cores(folded string) []string {
	out := []string{folded}
	for _, trim := range []func(rune) bool{
		func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) },
		func(r rune) bool { return !unicode.IsLetter(r) },
		func(r rune) bool { return !unicode.IsDigit(r) },
	} {
		if c := strings.TrimFunc(folded, trim); utf8.RuneCountInString(c) >= minCore && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// repetitive reports a text of at most two distinct characters
// ("ffffffff", "abababab", "aaaaaaa1"), or one that repeats a unit of
// fewer than minCore characters throughout ("abcabcabc"). Longer units
// repeated are left to the zxcvbn score, which rates a repeat by its unit.
func repetitive(s string) bool {
	rs := []rune(s)
	distinct := map[rune]bool{}
	for _, r := range rs {
		distinct[r] = true
	}
	if len(distinct) <= 2 {
		return true
	}
	for p := 1; p < minCore && p <= len(rs)/2; p++ {
		periodic := true
		for i := p; i < len(rs) && periodic; i++ {
			periodic = rs[i] == rs[i-p]
		}
		if periodic {
			return true
		}
	}
	return false
}

// sequence reports a run of code points with one constant small step
// ("12345678", "abcdefgh", "zyxwvuts", "13579bdf").
func sequence(s string) bool {
	rs := []rune(s)
	if len(rs) < minCore {
		return false
	}
	d := rs[1] - rs[0]
	if d == 0 || d > 5 || d < -5 {
		return false
	}
	for i := 2; i < len(rs); i++ {
		if rs[i]-rs[i-1] != d {
			return false
		}
	}
	return true
}

// minContextToken is the shortest part of a context value ("smith" in
// "bob.smith@example.com" or "Alice Smith") that is looked for on its own.
const minContextToken = 4

// contextWords returns the folded context words to look for: each value,
// the local part of each email address, and the parts of those split at
// anything that is not a letter or digit (a guesser tries "smith" as well
// as "bob.smith"). Email domains are not split: "mail" or "example" alone
// say little about this user.
func contextWords(context []string) []string {
	words := []string{ProductName}
	for _, c := range context {
		c = fold(strings.TrimSpace(norm.NFKC.String(c)))
		words = append(words, c)
		name := c
		if local, _, ok := strings.Cut(c, "@"); ok {
			words = append(words, local)
			name = local
		}
		for _, tok := range strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			if utf8.RuneCountInString(tok) >= minContextToken {
				words = append(words, tok)
			}
		}
	}
	out := words[:0]
	for _, w := range words {
		if utf8.RuneCountInString(w) >= minContextWord && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

func fold(s string) string { return cases.Fold().String(s) }

// isCommon reports whether the folded password is on the blocklist, or is
// a blocklisted password with only digits and symbols added before or
// after it ("Password1!", "!!monkey2024"): attackers' rules try exactly
// those decorations first.
func isCommon(folded string) bool {
	list := blocklist()
	if _, ok := list[folded]; ok {
		return true
	}
	core := strings.TrimFunc(folded, func(r rune) bool { return !unicode.IsLetter(r) })
	if core == "" || core == folded {
		return false
	}
	_, ok := list[core]
	return ok
}

// blocklist is the "passwords" frequency list of zxcvbn (30,000 most common
// passwords from leaks), folded, built on first use.
var blocklist = sync.OnceValue(func() map[string]struct{} {
	src := frequency.Lists()["passwords"]
	m := make(map[string]struct{}, len(src))
	for _, w := range src {
		m[fold(w)] = struct{}{}
	}
	return m
})

// BlocklistSize is the number of passwords on the blocklist.
func BlocklistSize() int { return len(blocklist()) }

// Strength estimates how hard pw is to guess, from 0 (trivial) to 4 (very
// hard), with zxcvbn; context words count as easy guesses. It drives the
// strength meter, and Policy.Check refuses scores below MinStrength.
func Strength(pw string, context ...string) int {
	nf := norm.NFKC.String(pw)
	// zxcvbn's matching grows faster than linearly; anything past the
	// maximum length is rejected anyway.
	if utf8.RuneCountInString(nf) > DefaultMaxLength {
		nf = string([]rune(nf)[:DefaultMaxLength])
	}
	return zxcvbn.PasswordStrength(nf, append(contextWords(context), context...)).Score
}
