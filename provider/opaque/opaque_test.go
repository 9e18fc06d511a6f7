package opaque_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/latchkeyid/latchkey/provider/opaque"
	"github.com/latchkeyid/latchkey/provider/secret"
)

func keyring(t *testing.T) *secret.Keyring {
	t.Helper()
	k, err := secret.Parse(secret.Generate())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func legacy(k *secret.Keyring) op.Crypto {
	return op.NewAES256GCMCrypto([32]byte(k.Derive(opaque.LegacyPurpose)), opaque.LegacyKeyID)
}

func TestCrypto(t *testing.T) {
	cur, prev, other := keyring(t), keyring(t), keyring(t)
	rotating := cur.WithPrevious(prev)
	const plain = "0b3f6c1e-token-id:client-7"
	seal := func(c op.Crypto) string {
		s, err := c.Encrypt(plain)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	fresh := seal(opaque.New(cur))
	flip := []byte(fresh)
	flip[len(flip)-3] ^= 'A' ^ 'B'
	for _, tc := range []struct {
		name  string
		by    *secret.Keyring // the opener's keyring
		value string
		opens bool
	}{
		{"sealed here", cur, fresh, true},
		{"sealed under the previous secret, during the rotation", rotating, seal(opaque.New(prev)), true},
		{"sealed under the previous secret, after the rotation", cur, seal(opaque.New(prev)), false},
		{"sealed while rotating, by the new secret alone", cur, seal(opaque.New(rotating)), true},
		{"another provider's secret", other, fresh, false},
		{"one character changed", cur, string(flip), false},
		{"cut short", cur, fresh[:len(fresh)-4], false},
		{"the prefix alone", cur, "lk2.", false},
		{"not base64", cur, "lk2.!!!!", false},
		{"the library's format, issued before", cur, seal(legacy(cur)), true},
		{"the library's format, previous secret, during the rotation", rotating, seal(legacy(prev)), true},
		{"the library's format, another secret", cur, seal(legacy(other)), false},
		{"a JWT", cur, "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", false},
		{"empty", cur, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := opaque.New(tc.by).Decrypt(tc.value)
			switch {
			case tc.opens && (err != nil || got != plain):
				t.Errorf("Decrypt = %q, %v; want %q", got, err, plain)
			case !tc.opens && !errors.Is(err, opaque.ErrOpen):
				t.Errorf("Decrypt = %q, %v; want ErrOpen", got, err)
			}
		})
	}
}

// MintFormat chooses what Encrypt writes, asked at every call: the
// library's format while the fleet may hold an instance of an older
// release (whose Crypto is the library's own, opening nothing else), the
// lk2 box once the setting says every instance opens it. This release
// opens both either way.
func TestMintFormat(t *testing.T) {
	k := keyring(t)
	older := legacy(k) // what an instance of the release before lk2 opens with
	const plain = "0b3f6c1e-token-id:client-7"
	for _, tc := range []struct {
		name       string
		format     opaque.Format
		lk2, older bool // minted as lk2; an older instance opens it
	}{
		{"jwe", opaque.FormatJWE, false, true},
		{"unset or unreadable", 0, false, true},
		{"lk2", opaque.FormatLK2, true, false},
		{"a later format", opaque.FormatLK2 + 1, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := opaque.New(k, opaque.MintFormat(func() opaque.Format { return tc.format }))
			v, err := c.Encrypt(plain)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(v, "lk2.") != tc.lk2 {
				t.Errorf("minted %q, want lk2 %t", v, tc.lk2)
			}
			if got, err := opaque.New(k).Decrypt(v); err != nil || got != plain {
				t.Errorf("this release opens %q, %v", got, err)
			}
			if got, err := older.Decrypt(v); (err == nil && got == plain) != tc.older {
				t.Errorf("an older instance opens it: %q, %v; want %t", got, err, tc.older)
			}
		})
	}
	format := opaque.FormatJWE
	c := opaque.New(k, opaque.MintFormat(func() opaque.Format { return format }))
	before, _ := c.Encrypt(plain)
	format = opaque.FormatLK2
	after, _ := c.Encrypt(plain)
	if strings.HasPrefix(before, "lk2.") || !strings.HasPrefix(after, "lk2.") {
		t.Errorf("the format was not asked at each call: %q then %q", before, after)
	}
}

// Two seals of one value differ (a fresh nonce each), and the token is
// shorter than the library's JWE and safe in a URL and a Bearer header.
func TestEncryptShape(t *testing.T) {
	c := opaque.New(keyring(t))
	a, _ := c.Encrypt("id:subject")
	b, _ := c.Encrypt("id:subject")
	if a == b {
		t.Error("two seals of one value are equal")
	}
	if !strings.HasPrefix(a, "lk2.") || strings.ContainsAny(a, "+/=: ") {
		t.Errorf("token %q: want lk2. and base64url", a)
	}
	j, _ := legacy(keyring(t)).Encrypt("id:subject")
	if len(a) >= len(j) {
		t.Errorf("token is %d characters, the library's %d", len(a), len(j))
	}
}

func BenchmarkEncrypt(b *testing.B) {
	k, _ := secret.Parse(secret.Generate())
	for _, c := range []struct {
		name string
		c    op.Crypto
	}{
		{"opaque", opaque.New(k)},
		{"library-JWE", legacy(k)},
		// As an instance mints them: the format asked at every call.
		{"opaque-by-setting", opaque.New(k, opaque.MintFormat(func() opaque.Format { return opaque.FormatLK2 }))},
		{"jwe-by-setting", opaque.New(k, opaque.MintFormat(func() opaque.Format { return opaque.FormatJWE }))},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.c.Encrypt("0b3f6c1e-5d2a-4c4e-9e7f-2a1b3c4d5e6f:client-7")
			}
		})
	}
}
