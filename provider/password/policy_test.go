package password

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	upstream "github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/frequency"

	"github.com/latchkeyid/latchkey/provider/password/internal/zxcvbn"
)

func TestPolicyCheck(t *testing.T) {
	ctx := []string{"alice", "bob.smith@example.com", "Alice Wonderland"}
	tests := []struct {
		name   string
		policy Policy
		pw     string
		code   string // "" = accepted
	}{
		// Checklist 28: length in code points after NFKC, >= 64 accepted, 129+ refused.
		{"seven-refused", Policy{}, "tqx7vmz", RejectTooShort},
		{"eight-accepted", Policy{}, "tqx7vmzk", ""},
		{"sixty-four-accepted", Policy{}, strings.Repeat("tqx7 vmzk ", 6) + "tqx7", ""},
		{"one-twenty-eight-accepted", Policy{}, strings.Repeat("tqx7vmzk", 16), ""},
		{"one-twenty-nine-refused", Policy{}, strings.Repeat("tqx7vmzk", 16) + "q", RejectTooLong},
		{"decomposed-counted-after-nfkc", Policy{}, strings.Repeat("e\u0301", 7), RejectTooShort},
		{"emoji-are-one-code-point-each", Policy{}, "🦄🐙🦊🐢🦉🐝🦋🐬", ""},
		{"raised-minimum", Policy{MinLength: 12}, "tqx7vmzk-ab", RejectTooShort},
		{"raised-minimum-met", Policy{MinLength: 12}, "tqx7vmzk-abc", ""},
		{"minimum-below-eight-means-eight", Policy{MinLength: 4}, "tqx7vm", RejectTooShort},
		{"maximum-below-64-means-128", Policy{MaxLength: 10}, strings.Repeat("tqx7vmzk", 16), ""},
		{"raised-maximum", Policy{MaxLength: 256}, strings.Repeat("tqx7vmzk", 20), ""},
		// Checklist 29: no composition rules; common passwords refused as common.
		{"passphrase-no-classes", Policy{}, "correct horse battery staple", ""},
		{"all-lowercase", Policy{}, "zebrasquidlanternfog", ""},
		{"Password1!-common", Policy{}, "Password1!", RejectCommon},
		{"password-common", Policy{}, "password", RejectCommon},
		{"common-any-case", Policy{}, "BaSeBaLl1", RejectCommon},
		{"common-with-digits-around", Policy{}, "2024sunshine!!", RejectCommon},
		{"common-inside-longer-text-ok", Policy{}, "my sunshine is a purple kettle", ""},
		// Checklist 30: context words, case-insensitive.
		{"username", Policy{}, "ALICE-in-chains-99", RejectContextWords},
		{"email-local-part", Policy{}, "xx Bob.Smith yy zz", RejectContextWords},
		{"whole-email", Policy{}, "bob.smith@example.com", RejectContextWords},
		{"email-local-part-token", Policy{}, "SMITH family 2024", RejectContextWords},
		{"display-name-token", Policy{}, "the wonderland years", RejectContextWords},
		{"email-domain-token-allowed", Policy{}, "an example of a phrase", ""},
		{"short-token-allowed", Policy{}, "bob the builder rocks", ""},
		{"product-name", Policy{}, "my LatchKey secret", RejectContextWords},
		{"product-name-fullwidth", Policy{}, "ｌａｔｃｈｋｅｙ rocks", RejectContextWords},
		// Checklist 31: any printable Unicode, spaces and emoji.
		{"spaces", Policy{}, "    spaces    inside   ", ""},
		{"emoji-zwj-family", Policy{}, "👩‍👩‍👧 family trip 🏝️", ""},
		{"cjk", Policy{}, "鍵は机の上にある", ""},
		{"tab-refused", Policy{}, "tab\there please", RejectInvalid},
		{"newline-refused", Policy{}, "line\nbreak please", RejectInvalid},
		{"invalid-utf8-refused", Policy{}, "bad \xff bytes here", RejectInvalid},
		// Repetition and sequences, judged after NFKC and case folding, and
		// the zxcvbn score.
		{"ligature-ff-is-ffffffff", Policy{}, "ﬀﬀﬀﬀ", RejectRepetitive},
		{"one-letter", Policy{}, "ffffffff", RejectRepetitive},
		{"one-letter-any-case", Policy{}, "FfFfFfFf", RejectRepetitive},
		{"one-letter-and-a-digit", Policy{}, "aaaaaaaa1", RejectRepetitive},
		{"two-letters-alternating", Policy{}, "abababab", RejectRepetitive},
		{"unit-repeated", Policy{}, "xqzxqzxqz", RejectRepetitive},
		{"unit-repeated-decorated", Policy{}, "!!kvtkvtkvt!!", RejectRepetitive},
		{"fullwidth-repeat", Policy{}, "ｚｚｚｚｚｚｚｚ", RejectRepetitive},
		{"non-ascii-repeat", Policy{}, "éééééééé", RejectRepetitive},
		{"decomposed-repeat", Policy{}, strings.Repeat("e\u0301", 8), RejectRepetitive},
		{"digits-ascending", Policy{}, "12345678", RejectCommon},
		{"letters-ascending-unlisted", Policy{}, "ijklmnop", RejectSequence},
		{"letters-ascending", Policy{}, "abcdefgh", RejectSequence},
		{"letters-descending", Policy{}, "zyxwvuts", RejectSequence},
		{"step-two", Policy{}, "acegikmo", RejectSequence},
		{"sequence-decorated", Policy{}, "mnopqrst!", RejectSequence},
		{"fullwidth-sequence", Policy{}, "ｍｎｏｐｑｒｓｔ", RejectSequence},
		{"keyboard-walk-low-score", Policy{}, "qwertyuiop", RejectCommon},
		{"keyboard-walk-unlisted", Policy{}, "mnbvcxzlkj", RejectGuessable},
		{"name-and-year", Policy{}, "Jennifer1990", RejectGuessable},
		{"repeat-inside-passphrase-ok", Policy{}, "aaa bbb lantern orchard", ""},
		{"random-eight-ok", Policy{}, "tqx7vmzk", ""},
		{"raised-strength", Policy{MinStrength: 4}, "tqx7vmzk", RejectGuessable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.pw, ctx...)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want accepted", tt.pw, err)
				}
				return
			}
			var r *Rejection
			if !errors.As(err, &r) {
				t.Fatalf("Check(%q) = %v, want *Rejection %s", tt.pw, err, tt.code)
			}
			if r.Code != tt.code {
				t.Fatalf("Check(%q) code = %s (%s), want %s", tt.pw, r.Code, r.Reason, tt.code)
			}
			if r.Reason == "" || (strings.Contains(r.Reason, tt.pw) && tt.pw != "password") {
				t.Fatalf("reason %q must explain, and never repeat the password", r.Reason)
			}
		})
	}
}

// Short context words would forbid too much; two-letter names are ignored.
func TestPolicyShortContextWordIgnored(t *testing.T) {
	if err := (Policy{}).Check("al dente pasta night", "al"); err != nil {
		t.Fatalf("a 2-letter username blocked a password: %v", err)
	}
}

// Checklist 30: every one of the top 10,000 common passwords that fits the
// length rule is refused, and there are at least 3,000 of them.
func TestBlocklistTop10000(t *testing.T) {
	if n := BlocklistSize(); n < 10000 {
		t.Fatalf("blocklist has %d passwords, want >= 10000", n)
	}
	fitting := 0
	for _, pw := range frequency.FrequencyLists["passwords"][:10000] {
		if utf8.RuneCountInString(pw) < DefaultMinLength {
			continue
		}
		fitting++
		var r *Rejection
		if err := DefaultPolicy.Check(pw); !errors.As(err, &r) || r.Code != RejectCommon {
			t.Fatalf("common password %q: Check = %v, want common", pw, err)
		}
		if err := DefaultPolicy.Check(strings.ToUpper(pw)); !errors.As(err, &r) || r.Code != RejectCommon {
			t.Fatalf("upper-cased common password %q: Check = %v, want common", pw, err)
		}
	}
	if fitting < 3000 {
		t.Fatalf("only %d of the top 10,000 fit the policy; want >= 3000", fitting)
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Policy
		ok   bool
	}{
		{"zero", Policy{}, true},
		{"default", DefaultPolicy, true},
		{"raised", Policy{MinLength: 15, MaxLength: 256}, true},
		{"min-too-low", Policy{MinLength: 6}, false},
		{"max-too-low", Policy{MaxLength: 32}, false},
		{"min-above-max", Policy{MinLength: 100, MaxLength: 80}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestStrength(t *testing.T) {
	tests := []struct {
		name     string
		pw       string
		min, max int
	}{
		{"common", "password", 0, 0},
		{"username-based", "alice2024", 0, 1},
		{"passphrase", "correct horse battery staple purple", 4, 4},
		{"very-long-is-bounded", strings.Repeat("a1b2", 1000), 0, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s := Strength(tt.pw, "alice"); s < tt.min || s > tt.max {
				t.Fatalf("Strength(%q) = %d, want %d..%d", tt.pw, s, tt.min, tt.max)
			}
		})
	}
}

func FuzzPolicyCheck(f *testing.F) {
	for _, s := range []string{"", "password", "correct horse", "\xff", "👩‍👩‍👧", strings.Repeat("é", 200)} {
		f.Add(s, "alice")
	}
	f.Fuzz(func(t *testing.T, pw, ctx string) {
		err := DefaultPolicy.Check(pw, ctx)
		var r *Rejection
		if err != nil && !errors.As(err, &r) {
			t.Fatalf("Check returned a non-Rejection error: %v", err)
		}
	})
}

// The lazily loading copy of zxcvbn scores as the upstream module does:
// common passwords and their variants (capitals, leet, suffixes, reversed),
// keyboard walks, dates, repeats, sequences, passphrases and random
// strings, with and without context words.
func TestSameScoresAsUpstream(t *testing.T) {
	pws := []string{"", "a", "Tr0ub4dor&3", "correct horse battery staple", "qwertyuiop", "zxcvbn", "1qaz2wsx3edc",
		"13/05/1987", "1987-05-13", "aaaaaaaaaa", "abcabcabc", "abcdefgh", "13579", "9876543210", "rdnzl-0Qv!x",
		"orchard 7q2kx9bmw", "alice1987", "AliceWonderland", "bob.smith", "Zürich-Straße-12", "пароль123", "パスワード"}
	for i, pw := range frequency.FrequencyLists["passwords"] {
		if i%500 == 0 {
			pws = append(pws, pw, strings.ToUpper(pw[:1])+pw[1:]+"!", strings.NewReplacer("a", "@", "o", "0", "e", "3").Replace(pw),
				pw+"2024", reverse(pw))
		}
	}
	for _, ctx := range [][]string{nil, {"alice", "bob.smith@example.com", "Alice Wonderland", ProductName}} {
		for _, pw := range pws {
			got, want := zxcvbn.PasswordStrength(pw, ctx), upstream.PasswordStrength(pw, ctx)
			if got.Score != want.Score || got.Guesses != want.Guesses {
				t.Errorf("%q (context %v): score %d, guesses %g; upstream %d, %g", pw, ctx, got.Score, got.Guesses, want.Score, want.Guesses)
			}
		}
	}
}

func reverse(s string) string {
	r := []rune(s)
	slices.Reverse(r)
	return string(r)
}
