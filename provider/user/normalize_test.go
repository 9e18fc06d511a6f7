package user_test

import (
	"testing"

	"github.com/latchkeyid/latchkey/provider/user"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"lower", "alice", "alice"},
		{"upper", "ALICE", "alice"},
		{"trailing-space", "alice ", "alice"},
		{"leading-and-tab", "\talice", "alice"},
		{"fullwidth", "ａｌｉｃｅ", "alice"},
		{"nbsp-and-ideographic-space", "\u00a0alice\u3000", "alice"},
		{"accent-kept", "alíce", "alíce"},
		{"decomposed-accent-composed", "ali\u0301ce", "alíce"},
		{"dotless-i-kept", "alıce", "alıce"},
		{"capital-dotted-i", "İ", "i\u0307"},
		{"sharp-s-folds", "Straße", "strasse"},
		{"greek-final-sigma", "ΟΔΟΣ", "οδοσ"},
		{"ligature", "ﬁle", "file"},
		{"email", "Alice@Example.COM", "alice@example.com"},
		{"inner-space-kept", "a  b", "a  b"},
		{"cherokee-capital", "Ꮃ", "Ꮃ"},
		{"cherokee-small-folds-to-capital", "ꮃ", "Ꮃ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := user.Normalize(tt.in); got != tt.want {
				t.Fatalf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// Checklist 67: normalisation never panics and is idempotent, so a key
// normalised again (an admin typing a stored key) still matches.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"alice", "ALICE ", "ａｌｉｃｅ", "alıce", "İstanbul", "ß", "\u0345", "ǅ", "\xff", "ﬃ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := user.Normalize(s)
		if again := user.Normalize(n); again != n {
			t.Fatalf("Normalize not idempotent: %q -> %q -> %q", s, n, again)
		}
	})
}
