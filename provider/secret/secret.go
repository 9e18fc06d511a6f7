package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// KeySize is the length of LATCHKEY_SECRET once decoded.
const KeySize = 32

var (
	// ErrBadKey means LATCHKEY_SECRET is not base64 of 32 bytes.
	ErrBadKey = errors.New("secret: LATCHKEY_SECRET must be base64 of 32 random bytes")
	// ErrOpen means a sealed value was tampered with or sealed under another key or purpose.
	ErrOpen = errors.New("secret: cannot open sealed value")
)

// Keyring holds the master secret. It is safe for concurrent use.
//
// During a rotation of LATCHKEY_SECRET it also holds the previous secret
// (LATCHKEY_SECRET_PREVIOUS): boxes seal only under the current secret but
// open under either, and MACs returns both keyed hashes, so values made
// before the switch (short-lived codes, flows, sessions, refresh tokens,
// client secrets not yet used) keep working until they are re-sealed by
// `latchkey secret rotate`, re-hashed at next use, or age out.
type Keyring struct {
	master []byte
	prev   []byte
	obs    atomic.Pointer[func(Op)]
	macKey sync.Map // macKeyID → the HKDF-derived HMAC key: derived once, not per MAC
}

type macKeyID struct {
	prev    bool
	purpose string
}

// WithPrevious returns a keyring that seals and MACs under k and also
// opens and verifies under prev. prev's own previous secret is dropped:
// only one rotation is in flight at a time.
func (k *Keyring) WithPrevious(prev *Keyring) *Keyring {
	out := &Keyring{master: k.master}
	if prev != nil && !hmac.Equal(prev.master, k.master) {
		out.prev = prev.master
	}
	if fn := k.obs.Load(); fn != nil {
		out.obs.Store(fn)
	}
	return out
}

// HasPrevious reports whether a previous secret is still accepted.
func (k *Keyring) HasPrevious() bool { return k.prev != nil }

// Current returns the keyring without its previous secret: the rotation
// tool uses it to tell a value already sealed under the new secret.
func (k *Keyring) Current() *Keyring { return &Keyring{master: k.master} }

// Previous returns the previous secret alone, or nil.
func (k *Keyring) Previous() *Keyring {
	if k.prev == nil {
		return nil
	}
	return &Keyring{master: k.prev}
}

// Fingerprint names the secret without revealing it (a MAC of a fixed
// label): rotation progress is recorded against it.
func (k *Keyring) Fingerprint() string {
	return base64.RawURLEncoding.EncodeToString(k.Current().MAC("fingerprint")[:12])
}

// Op names a cryptographic operation an observer hears of.
type Op string

// The operations an observer hears of.
const (
	OpMAC  Op = "mac"
	OpSeal Op = "seal"
	OpOpen Op = "open"
)

// Observe makes fn hear every MAC, Seal and Open made with k and its
// boxes (nil stops it). Tests use it to prove that two code paths do the
// same cryptographic work, which timing alone cannot show reliably.
func (k *Keyring) Observe(fn func(Op)) {
	if fn == nil {
		k.obs.Store(nil)
		return
	}
	k.obs.Store(&fn)
}

func (k *Keyring) note(op Op) {
	if k == nil {
		return
	}
	if fn := k.obs.Load(); fn != nil {
		(*fn)(op)
	}
}

// Parse decodes a base64 (standard or URL, padded or not) 32-byte secret.
func Parse(s string) (*Keyring, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return &Keyring{master: b}, nil
		}
	}
	return nil, ErrBadKey
}

// Generate returns a new random secret in the form Parse accepts.
func Generate() string {
	b := make([]byte, KeySize)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.StdEncoding.EncodeToString(b)
}

// Derive returns a 32-byte key for purpose, e.g. "oidc-crypto-key".
func (k *Keyring) Derive(purpose string) []byte { return derive(k.master, purpose) }

func derive(master []byte, purpose string) []byte {
	out, err := hkdf.Key(sha256.New, master, nil, "latchkey/"+purpose, 32)
	if err != nil {
		panic(fmt.Sprintf("secret: hkdf: %v", err)) // only on impossible lengths
	}
	return out
}

// MAC returns HMAC-SHA256 under the purpose key over the parts, each
// length-prefixed so ("ab","c") and ("a","bc") differ.
func (k *Keyring) MAC(purpose string, parts ...string) []byte {
	k.note(OpMAC)
	return mac(k.macKeyFor(false, purpose), parts)
}

// macKeyFor returns the MAC key of purpose under the current secret, or
// the previous one. Purposes are the callers' constants, so the cache
// stays small.
func (k *Keyring) macKeyFor(prev bool, purpose string) []byte {
	id := macKeyID{prev, purpose}
	if v, ok := k.macKey.Load(id); ok {
		return v.([]byte)
	}
	master := k.master
	if prev {
		master = k.prev
	}
	key := derive(master, "mac/"+purpose)
	k.macKey.Store(id, key)
	return key
}

// MACs returns the MAC under the current secret and, during a rotation,
// under the previous one too: lookups by keyed hash match either.
func (k *Keyring) MACs(purpose string, parts ...string) [][]byte {
	out := [][]byte{k.MAC(purpose, parts...)}
	if k.prev != nil {
		out = append(out, mac(k.macKeyFor(true, purpose), parts))
	}
	return out
}

// Verify reports whether sum is the MAC of parts under the current or,
// during a rotation, the previous secret; current is false when only the
// previous one matched, so the caller can re-hash what it stores.
func (k *Keyring) Verify(sum []byte, purpose string, parts ...string) (ok, current bool) {
	for i, m := range k.MACs(purpose, parts...) {
		if hmac.Equal(sum, m) {
			return true, i == 0
		}
	}
	return false, false
}

func mac(key []byte, parts []string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		var n [4]byte
		l := len(p)
		n[0], n[1], n[2], n[3] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l) // #nosec G115 -- big-endian 32-bit prefix by design (stored MACs depend on it); parts are request-sized, far below 4 GiB
		m.Write(n[:])
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// Box seals and opens values for one purpose with AES-256-GCM.
type Box struct {
	aead    cipher.AEAD
	prev    cipher.AEAD // nil unless a previous secret is accepted
	purpose string
	k       *Keyring
}

// Box returns the sealing box for purpose.
func (k *Keyring) Box(purpose string) *Box {
	b := &Box{aead: newAEAD(k.master, purpose), purpose: purpose, k: k}
	if k.prev != nil {
		b.prev = newAEAD(k.prev, purpose)
	}
	return b
}

func newAEAD(master []byte, purpose string) cipher.AEAD {
	block, err := aes.NewCipher(derive(master, "box/"+purpose))
	if err != nil {
		panic(fmt.Sprintf("secret: aes: %v", err))
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(fmt.Sprintf("secret: gcm: %v", err))
	}
	return aead
}

// Seal encrypts plaintext; aad (for example a row ID) binds the result to
// its context so a sealed value copied to another row does not open.
func (b *Box) Seal(plaintext, aad []byte) []byte {
	b.k.note(OpSeal)
	nonce := make([]byte, b.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return b.aead.Seal(nonce, nonce, plaintext, aad)
}

// Open decrypts a value made by Seal with the same aad.
func (b *Box) Open(sealed, aad []byte) ([]byte, error) {
	b.k.note(OpOpen)
	n := b.aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrOpen
	}
	out, err := b.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil && b.prev != nil {
		out, err = b.prev.Open(nil, sealed[:n], sealed[n:], aad)
	}
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}
