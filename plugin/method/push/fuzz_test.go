package push

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchkeyid/latchkey/provider/secret"
)

// FuzzOpenEnroll: whatever a client posts as an enrollment request, the
// check answers with an error or valid claims and a P-256 public key;
// it never panics.
func FuzzOpenEnroll(f *testing.F) {
	keys, _ := secret.Parse(secret.Generate())
	m, err := New(nil, nil, keys, Config{Issuer: "https://id.example.com"})
	if err != nil {
		f.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, &jose.SignerOptions{EmbedJWK: true})
	payload, _ := json.Marshal(EnrollClaims{Typ: TypEnroll, Audience: "https://id.example.com", Token: "T", IssuedAt: 1})
	jws, _ := s.Sign(payload)
	good, _ := jws.CompactSerialize()
	f.Add(good)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(good[:len(good)/2])
	f.Fuzz(func(t *testing.T, s string) {
		c, jwk, err := m.openEnroll(s)
		if err != nil {
			return
		}
		if c.Typ != TypEnroll || c.Token == "" || c.Audience != "https://id.example.com" {
			t.Fatalf("accepted claims %+v", c)
		}
		if _, err := ValidDeviceKey(jwk); err != nil {
			t.Fatalf("accepted key: %v", err)
		}
	})
}
