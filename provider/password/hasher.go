package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/text/unicode/norm"
)

// Params are the Argon2id cost parameters. The zero value means the
// defaults (OWASP's first recommendation: 19 MiB, 2 passes, 1 lane).
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
}

// DefaultParams are OWASP's Argon2id recommendation, measured at about
// 41 ms per hash on this project's reference machine.
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1}

const (
	saltLen = 16
	keyLen  = 32

	// Limits for parameters read from a stored hash, so a corrupt or
	// hostile imported hash cannot make one verify take gigabytes or minutes.
	maxMemory  = 1 << 21 // 2 GiB in KiB
	maxTime    = 64
	maxKeyLen  = 128
	minKeyLen  = 16
	minSaltLen = 8
	maxSaltLen = 64
)

// ErrUnknownHash means a stored hash is neither Argon2id PHC nor bcrypt, or
// is malformed.
var ErrUnknownHash = errors.New("password: unrecognised or malformed password hash")

// Validate reports parameters too weak for ASVS 5 (>= 19 MiB with t >= 2,
// p >= 1) or too large to be sane.
func (p Params) Validate() error {
	switch {
	case p.Memory < 19456:
		return fmt.Errorf("password: argon2id memory %d KiB is below the 19456 KiB minimum", p.Memory)
	case p.Memory > maxMemory:
		return fmt.Errorf("password: argon2id memory %d KiB is above %d KiB", p.Memory, maxMemory)
	case p.Time < 2:
		return fmt.Errorf("password: argon2id time %d is below the minimum of 2", p.Time)
	case p.Time > maxTime:
		return fmt.Errorf("password: argon2id time %d is above %d", p.Time, maxTime)
	case p.Threads < 1:
		return errors.New("password: argon2id threads must be at least 1")
	}
	return nil
}

func (p Params) withDefaults() Params {
	if p == (Params{}) {
		return DefaultParams
	}
	if p.Threads == 0 {
		p.Threads = 1
	}
	return p
}

// ErrBusy means every hashing slot is taken and the wait queue is full:
// the caller should answer "try again shortly" (HTTP 503 with Retry-After)
// rather than queue, so a burst of sign-ins cannot pile up goroutines,
// request bodies and, once they run, Argon2id memory without bound.
var ErrBusy = errors.New("password: hasher busy")

// DefaultQueuePerSlot is how many callers may wait for each hashing slot.
// At ~40 ms a hash, eight waiting per core is about a third of a second of
// queueing: enough to absorb a login storm, short enough to stay bounded.
const DefaultQueuePerSlot = 8

// Hasher hashes and verifies passwords. It is safe for concurrent use.
type Hasher struct {
	params  Params
	sem     chan struct{}
	queue   int64        // most callers waiting for a slot at once
	waiting atomic.Int64 // callers waiting now
	evals   atomic.Uint64
}

// HasherOption configures a Hasher.
type HasherOption func(*Hasher)

// WithQueue sets how many callers may wait for a slot (at least 0); beyond
// it acquire fails with ErrBusy at once.
func WithQueue(n int) HasherOption { return func(h *Hasher) { h.queue = int64(max(n, 0)) } }

// WithSlots sets how many hashes run at once (default GOMAXPROCS).
func WithSlots(n int) HasherOption {
	return func(h *Hasher) { h.sem = make(chan struct{}, max(n, 1)) }
}

// NewHasher returns a Hasher that hashes with p (zero value: DefaultParams)
// and runs at most runtime.GOMAXPROCS(0) hashes at once, with up to
// DefaultQueuePerSlot callers per slot waiting. Callers validate p with
// Params.Validate at start-up; NewHasher does not refuse weak parameters
// so tests can run fast.
func NewHasher(p Params, opts ...HasherOption) *Hasher {
	h := &Hasher{params: p.withDefaults(), sem: make(chan struct{}, runtime.GOMAXPROCS(0)), queue: -1}
	for _, o := range opts {
		o(h)
	}
	if h.queue < 0 {
		h.queue = int64(cap(h.sem) * DefaultQueuePerSlot)
	}
	return h
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// Evaluations is how many hashes (Hash, Verify or Fake) have run. Tests
// and measurements use it to count the expensive work a request did,
// rather than inferring it from elapsed time.
func (h *Hasher) Evaluations() uint64 { return h.evals.Load() }

// acquire takes a hashing slot, waiting in a bounded queue for ctx: a
// caller that would be queued beyond the bound gets ErrBusy at once.
func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		h.evals.Add(1)
		return nil
	default:
	}
	if h.waiting.Add(1) > h.queue {
		h.waiting.Add(-1)
		return ErrBusy
	}
	defer h.waiting.Add(-1)
	select {
	case h.sem <- struct{}{}:
		h.evals.Add(1)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("password: waiting to hash: %w", context.Cause(ctx))
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the Argon2id PHC string of the NFKC form of pw with a fresh
// 16-byte random salt, so equal passwords get different hashes.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt) // crypto/rand never fails
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	p := h.params
	key := argon2.IDKey([]byte(norm.NFKC.String(pw)), salt, p.Time, p.Memory, p.Threads, keyLen)
	return encodePHC(p, salt, key), nil
}

// Verify reports whether pw matches the stored hash (Argon2id PHC or
// bcrypt) and whether the hash should be replaced by Hash(pw) because it
// is bcrypt or was made with other parameters. err is only for a stored
// hash that cannot be read or a cancelled wait, never for a wrong password.
func (h *Hasher) Verify(ctx context.Context, stored, pw string) (ok, needsRehash bool, err error) {
	if isBcrypt(stored) {
		return h.verifyBcrypt(ctx, stored, pw)
	}
	ph, err := decodePHC(stored)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	key := argon2.IDKey([]byte(norm.NFKC.String(pw)), ph.salt, ph.params.Time, ph.params.Memory, ph.params.Threads, uint32(len(ph.key))) // #nosec G115 -- parseHash bounds the key to maxKeyLen bytes
	ok = subtle.ConstantTimeCompare(key, ph.key) == 1
	needsRehash = ph.params != h.params || len(ph.salt) != saltLen || len(ph.key) != keyLen
	return ok, ok && needsRehash, nil
}

// verifyBcrypt checks an imported bcrypt hash. bcrypt itself truncates at
// 72 bytes; the legacy system that made the hash did too, so a longer
// password is compared the same way, once, and then upgraded to Argon2id
// (which never truncates). Hashes from systems that did not normalise are
// matched on the password as received if its NFKC form fails.
func (h *Hasher) verifyBcrypt(ctx context.Context, stored, pw string) (ok, needsRehash bool, err error) {
	if _, err := bcrypt.Cost([]byte(stored)); err != nil {
		return false, false, fmt.Errorf("%w: %w", ErrUnknownHash, err)
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	nf := norm.NFKC.String(pw)
	ok = bcrypt.CompareHashAndPassword([]byte(stored), []byte(nf)) == nil
	if !ok && nf != pw {
		ok = bcrypt.CompareHashAndPassword([]byte(stored), []byte(pw)) == nil
	}
	return ok, ok, nil
}

// fakeSalt is fixed: Fake only has to cost the same as Verify, its result
// is thrown away.
var fakeSalt = []byte("latchkey-fake-salt")[:saltLen]

// Fake spends the same time and memory as Verify of an Argon2id hash made
// with the current parameters. Callers run it for unknown users so sign-in
// timing does not reveal whether an account exists. Its error is that of
// the wait (ErrBusy, a cancelled ctx), so a busy hasher answers unknown and
// known users alike.
func (h *Hasher) Fake(ctx context.Context, pw string) error {
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer h.release()
	p := h.params
	key := argon2.IDKey([]byte(norm.NFKC.String(pw)), fakeSalt, p.Time, p.Memory, p.Threads, keyLen)
	subtle.ConstantTimeCompare(key, make([]byte, keyLen))
	return nil
}

// Known reports whether stored is a hash Verify can read (Argon2id PHC or
// bcrypt), for validating imported hashes before they are saved.
func Known(stored string) bool {
	if isBcrypt(stored) {
		_, err := bcrypt.Cost([]byte(stored))
		return err == nil
	}
	_, err := decodePHC(stored)
	return err == nil
}

func isBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

var b64 = base64.RawStdEncoding

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

type phc struct {
	params    Params
	salt, key []byte
}

// decodePHC parses $argon2id$v=19$m=M,t=T,p=P$salt$hash strictly: the
// fields in this order, the current version only, bounded parameters.
func decodePHC(s string) (phc, error) {
	var out phc
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return out, ErrUnknownHash
	}
	kvs := strings.Split(parts[3], ",")
	if len(kvs) != 3 {
		return out, ErrUnknownHash
	}
	var mtp [3]uint64
	for i, name := range [3]string{"m", "t", "p"} {
		k, val, found := strings.Cut(kvs[i], "=")
		n, err := strconv.ParseUint(val, 10, 32)
		if !found || k != name || err != nil {
			return out, ErrUnknownHash
		}
		mtp[i] = n
	}
	m, t, p := mtp[0], mtp[1], mtp[2]
	if m == 0 || m > maxMemory || t == 0 || t > maxTime || p == 0 || p > 255 || m < 8*p {
		return out, ErrUnknownHash
	}
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen || len(key) < minKeyLen || len(key) > maxKeyLen {
		return out, ErrUnknownHash
	}
	out.params = Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(p)}
	out.salt, out.key = salt, key
	return out, nil
}
