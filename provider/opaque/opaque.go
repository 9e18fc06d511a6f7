package opaque

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/latchkeyid/latchkey/provider/secret"
)

// prefix marks this format; the library's JWE never starts with it.
const prefix = "lk2."

// Purpose is the key's purpose under the keyring.
const Purpose = "oidc-opaque"

// LegacyPurpose and LegacyKeyID are the key the library's JWE format was
// made with (op.Config's CryptoKey and CryptoKeyId).
const (
	LegacyPurpose = "oidc-crypto-key"
	LegacyKeyID   = "lk1"
)

// ErrOpen is returned for a value that is not one this provider sealed.
var ErrOpen = errors.New("opaque: value does not open")

// Format is a version of what Encrypt writes. Every release opens the
// formats before its own, so a fleet in a rolling upgrade mints the oldest
// one that every running instance opens.
type Format int64

const (
	// FormatJWE is the library's AES-GCM JWE, which every release opens.
	FormatJWE Format = 1
	// FormatLK2 is this package's "lk2." box, opened from the release that
	// introduced it on.
	FormatLK2 Format = 2
)

// Crypto is the library's op.Crypto.
type Crypto struct {
	seal   cipher.AEAD
	open   []cipher.AEAD // seal's, then the previous secret's while it is rotated away from
	legacy []op.Crypto   // the same secrets in the library's format
	mint   func() Format
}

var _ op.Crypto = (*Crypto)(nil)

// Option configures New.
type Option func(*Crypto)

// MintFormat makes Encrypt write the format f returns, asked at every
// call (a cluster-wide setting, so no instance mints what another cannot
// open yet). Anything below FormatLK2 writes FormatJWE. Without this
// option Encrypt writes FormatLK2.
func MintFormat(f func() Format) Option { return func(c *Crypto) { c.mint = f } }

// New returns the Crypto for k: it seals under k's current secret and
// opens under it and under the previous one during a rotation.
func New(k *secret.Keyring, opts ...Option) *Crypto {
	c := &Crypto{}
	for _, kr := range []*secret.Keyring{k.Current(), k.Previous()} {
		if kr == nil {
			continue
		}
		a, err := chacha20poly1305.NewX(kr.Derive(Purpose))
		if err != nil {
			panic("opaque: " + err.Error()) // only for a key that is not 32 bytes
		}
		c.open = append(c.open, a)
		c.legacy = append(c.legacy, op.NewAES256GCMCrypto([32]byte(kr.Derive(LegacyPurpose)), LegacyKeyID))
	}
	c.seal = c.open[0]
	for _, o := range opts {
		o(c)
	}
	return c
}

// Encrypt seals s in the format MintFormat chose.
func (c *Crypto) Encrypt(s string) (string, error) {
	if c.mint != nil && c.mint() < FormatLK2 {
		return c.legacy[0].Encrypt(s)
	}
	n := c.seal.NonceSize()
	box := make([]byte, n, n+len(s)+c.seal.Overhead())
	_, _ = rand.Read(box) // never fails (crypto/rand)
	box = c.seal.Seal(box, box, []byte(s), nil)
	out := make([]byte, len(prefix)+base64.RawURLEncoding.EncodedLen(len(box)))
	copy(out, prefix)
	base64.RawURLEncoding.Encode(out[len(prefix):], box)
	return string(out), nil
}

// Decrypt opens a value made by Encrypt, or by the library's format.
func (c *Crypto) Decrypt(s string) (string, error) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		for _, d := range c.legacy {
			if out, err := d.Decrypt(s); err == nil {
				return out, nil
			}
		}
		return "", ErrOpen
	}
	box, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(box) < c.seal.NonceSize()+c.seal.Overhead() {
		return "", ErrOpen
	}
	nonce, sealed := box[:c.seal.NonceSize()], box[c.seal.NonceSize():]
	for _, a := range c.open {
		if out, err := a.Open(nil, nonce, sealed, nil); err == nil {
			return string(out), nil
		}
	}
	return "", ErrOpen
}
