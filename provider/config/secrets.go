package config

import (
	"encoding/base64"
	"slices"

	"github.com/latchkeyid/latchkey/provider/secret"
)

// exampleSecrets are LATCHKEY_SECRET values that appear anywhere in this
// source tree or its documentation. A deployment that copied one is refused
// outside dev mode (security checklist 66, Kratos GHSA-hgx2-28f8-6g2r).
// TestNoUnlistedSecretInTree fails when a new one appears without being
// listed here.
var exampleSecrets = []string{
	// RFC 4648 test-vector-like placeholders people paste.
	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", // "0123456789abcdef0123456789abcdef"
	"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=", // "secretsecretsecretsecretsecret12"
	// Used by tests of this package and cmd/latchkey.
	"dGVzdC1vbmx5LWxhdGNoa2V5LXNlY3JldC0wMDAwMDE=",
}

// IsExampleSecret reports whether s decodes to the same key as a published
// example, whatever base64 flavour it is written in.
func IsExampleSecret(s string) bool {
	key, ok := decodeKey(s)
	if !ok {
		return false
	}
	return slices.ContainsFunc(exampleSecrets, func(e string) bool {
		k, ok := decodeKey(e)
		return ok && string(k) == string(key)
	})
}

// weakSecret catches hand-typed keys: 32 random bytes have about 30
// distinct values; fewer than 12 means a pattern, not randomness.
func weakSecret(s string) bool {
	key, ok := decodeKey(s)
	if !ok {
		return false
	}
	seen := map[byte]bool{}
	for _, b := range key {
		seen[b] = true
	}
	return len(seen) < 12
}

func decodeKey(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == secret.KeySize {
			return b, true
		}
	}
	return nil, false
}
