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
	}{{"opaque", opaque.New(k)}, {"library-JWE", legacy(k)}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.c.Encrypt("0b3f6c1e-5d2a-4c4e-9e7f-2a1b3c4d5e6f:client-7")
			}
		})
	}
}
