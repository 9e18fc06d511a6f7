package password

import (
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// fastParams keep most tests quick; TestHashDefaultFormat covers the real ones.
var fastParams = Params{Memory: 64, Time: 1, Threads: 1}

// Checklist 32: Argon2id, >= 19 MiB, t >= 2, p = 1, PHC, 16-byte random salt.
func TestHashDefaultFormat(t *testing.T) {
	h := NewHasher(Params{})
	if h.Params() != DefaultParams {
		t.Fatalf("zero Params = %+v, want defaults %+v", h.Params(), DefaultParams)
	}
	a, err := h.Hash(t.Context(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$`)
	m := re.FindStringSubmatch(a)
	if m == nil {
		t.Fatalf("hash %q is not argon2id PHC with the default parameters", a)
	}
	salt, _ := base64.RawStdEncoding.DecodeString(m[1])
	key, _ := base64.RawStdEncoding.DecodeString(m[2])
	if len(salt) != 16 || len(key) != 32 {
		t.Fatalf("salt %d bytes, key %d bytes; want 16 and 32", len(salt), len(key))
	}
	b, err := h.Hash(t.Context(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("the same password hashed twice gave the same hash: salt is not random")
	}
	if err := DefaultParams.Validate(); err != nil {
		t.Fatalf("defaults fail validation: %v", err)
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		ok   bool
	}{
		{"defaults", DefaultParams, true},
		{"stronger", Params{Memory: 65536, Time: 3, Threads: 4}, true},
		{"too-little-memory", Params{Memory: 19455, Time: 2, Threads: 1}, false},
		{"one-pass", Params{Memory: 19456, Time: 1, Threads: 1}, false},
		{"no-threads", Params{Memory: 19456, Time: 2, Threads: 0}, false},
		{"absurd-memory", Params{Memory: 1 << 30, Time: 2, Threads: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate(%+v) = %v, want ok=%v", tt.p, err, tt.ok)
			}
		})
	}
}

// Checklists 28 and 31: verified exactly as received after NFKC; no case
// change, no trimming, no truncation.
func TestVerify(t *testing.T) {
	h := NewHasher(fastParams)
	long := strings.Repeat("a", 99)
	tests := []struct {
		name, set, try string
		ok             bool
	}{
		{"same", "correct horse battery staple", "correct horse battery staple", true},
		{"wrong", "correct horse battery staple", "correct horse battery stapler", false},
		{"case-kept", "Correct Horse", "correct horse", false},
		{"no-trim-trailing", "secret words", "secret words ", false},
		{"no-trim-leading", " secret words", "secret words", false},
		{"no-truncation-at-100", long + "b" + "tail", long + "c" + "tail", false},
		{"no-truncation-at-72-bytes", strings.Repeat("x", 72) + "1", strings.Repeat("x", 72) + "2", false},
		{"nfkc-composed-equals-decomposed", "caf\u00e9 au lait", "cafe\u0301 au lait", true},
		{"nfkc-fullwidth-equals-ascii", "ｐａｓｓｗｏｒｄ ｆｕｌｌ", "password full", true},
		{"emoji", "🦄 rides a 🚲 at night", "🦄 rides a 🚲 at night", true},
		{"emoji-differs", "🦄 rides a 🚲 at night", "🦄 rides a 🛴 at night", false},
		{"empty-wrong", "something", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			phc, err := h.Hash(t.Context(), tt.set)
			if err != nil {
				t.Fatal(err)
			}
			ok, rehash, err := h.Verify(t.Context(), phc, tt.try)
			if err != nil || ok != tt.ok || rehash {
				t.Fatalf("Verify = %v, %v, %v; want %v, false, nil", ok, rehash, err, tt.ok)
			}
		})
	}
}

// Checklist 32: parameters upgrade transparently — Verify reports when a
// hash was made with other parameters (only for the right password).
func TestVerifyNeedsRehash(t *testing.T) {
	old := NewHasher(fastParams)
	phc, err := old.Hash(t.Context(), "pw to upgrade")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		params Params
		pw     string
		ok     bool
		rehash bool
	}{
		{"same-params", fastParams, "pw to upgrade", true, false},
		{"more-memory", Params{Memory: 128, Time: 1, Threads: 1}, "pw to upgrade", true, true},
		{"more-time", Params{Memory: 64, Time: 2, Threads: 1}, "pw to upgrade", true, true},
		{"more-threads", Params{Memory: 64, Time: 1, Threads: 2}, "pw to upgrade", true, true},
		{"wrong-password-no-rehash", Params{Memory: 128, Time: 1, Threads: 1}, "wrong", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := NewHasher(tt.params).Verify(t.Context(), phc, tt.pw)
			if err != nil || ok != tt.ok || rehash != tt.rehash {
				t.Fatalf("Verify = %v, %v, %v; want %v, %v, nil", ok, rehash, err, tt.ok, tt.rehash)
			}
		})
	}
}

// Imported bcrypt hashes ($2a$, $2b$, $2y$) verify and always ask for an
// upgrade to Argon2id.
func TestVerifyBcrypt(t *testing.T) {
	h := NewHasher(fastParams)
	raw, err := bcrypt.GenerateFromPassword([]byte("imported secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	rest := string(raw)[4:]
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		t.Run(strings.Trim(prefix, "$"), func(t *testing.T) {
			stored := prefix + rest
			if !Known(stored) {
				t.Fatalf("Known(%q) = false", stored)
			}
			ok, rehash, err := h.Verify(t.Context(), stored, "imported secret")
			if err != nil || !ok || !rehash {
				t.Fatalf("right password: %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
			ok, rehash, err = h.Verify(t.Context(), stored, "Imported secret")
			if err != nil || ok || rehash {
				t.Fatalf("wrong password: %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := NewHasher(fastParams)
	good, err := h.Hash(t.Context(), "x")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	tests := map[string]string{
		"empty":           "",
		"plain-text":      "hunter2",
		"argon2i":         with(1, "argon2i"),
		"old-version":     with(2, "v=16"),
		"params-reorder":  with(3, "t=1,m=64,p=1"),
		"params-missing":  with(3, "m=64,t=1"),
		"params-extra":    with(3, "m=64,t=1,p=1,x=2"),
		"memory-huge":     with(3, "m=4294967295,t=1,p=1"),
		"time-zero":       with(3, "m=64,t=0,p=1"),
		"threads-zero":    with(3, "m=64,t=1,p=0"),
		"salt-not-base64": with(4, "!!!!"),
		"salt-short":      with(4, "AAAA"),
		"key-short":       with(5, "AAAA"),
		"extra-field":     good + "$x",
		"bcrypt-garbage":  "$2a$10$short",
		"bcrypt-bad-cost": "$2a$99$" + strings.Repeat("a", 53),
	}
	for name, stored := range tests {
		t.Run(name, func(t *testing.T) {
			if Known(stored) {
				t.Fatalf("Known(%q) = true", stored)
			}
			ok, _, err := h.Verify(t.Context(), stored, "x")
			if ok || !errors.Is(err, ErrUnknownHash) {
				t.Fatalf("Verify(%q) = %v, %v; want false, ErrUnknownHash", stored, ok, err)
			}
		})
	}
}

// At most GOMAXPROCS hashes run at once; a waiting caller gives up when its
// context ends.
func TestConcurrencyCap(t *testing.T) {
	h := NewHasher(fastParams)
	for range cap(h.sem) {
		h.sem <- struct{}{} // every slot busy
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Hash with all slots busy = %v, want deadline exceeded", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := h.Hash(t.Context(), "x")
		done <- err
	}()
	select {
	case <-done:
		t.Fatal("Hash ran while every slot was busy")
	case <-time.After(50 * time.Millisecond):
	}
	<-h.sem // free one slot
	if err := <-done; err != nil {
		t.Fatalf("Hash after a slot freed: %v", err)
	}
}

// Checklist 34: Fake costs what a real verify costs, proved by the work
// done rather than by elapsed time: each evaluates exactly one hash and
// allocates the same Argon2id memory (the cost parameters decide both).
// Timing is only printed, from interleaved samples.
func TestFakeCostsAsMuchAsVerify(t *testing.T) {
	h := NewHasher(Params{})
	phc, err := h.Hash(t.Context(), "real password")
	if err != nil {
		t.Fatal(err)
	}
	work := func(fn func()) (evals, bytes uint64, took time.Duration) {
		var before, after runtime.MemStats
		e0 := h.Evaluations()
		runtime.ReadMemStats(&before)
		start := time.Now()
		fn()
		took = time.Since(start)
		runtime.ReadMemStats(&after)
		return h.Evaluations() - e0, after.TotalAlloc - before.TotalAlloc, took
	}
	const runs = 8
	var verify, fake []time.Duration
	for range runs {
		ve, vb, vt := work(func() { _, _, _ = h.Verify(t.Context(), phc, "guess") })
		fe, fb, ft := work(func() { _ = h.Fake(t.Context(), "guess") })
		if ve != 1 || fe != 1 {
			t.Fatalf("hashes evaluated: Verify %d, Fake %d; want 1 each", ve, fe)
		}
		if lo, hi := min(vb, fb), max(vb, fb); float64(hi-lo) > 0.02*float64(hi) || lo < uint64(DefaultParams.Memory)*1024 {
			t.Fatalf("bytes allocated: Verify %d, Fake %d; want the same Argon2id memory (%d KiB)", vb, fb, DefaultParams.Memory)
		}
		verify, fake = append(verify, vt), append(fake, ft)
	}
	t.Logf("median of %d interleaved: Verify %v, Fake %v", runs, median(verify), median(fake))
}

// A burst beyond the slots and the wait queue is refused at once with
// ErrBusy (Fake included, so unknown users are refused alike), and
// nothing is evaluated for it; queued callers run when a slot frees.
func TestQueueBound(t *testing.T) {
	h := NewHasher(fastParams, WithSlots(1), WithQueue(2))
	h.sem <- struct{}{} // the one slot busy
	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := h.Hash(t.Context(), "x")
			done <- err
		}()
	}
	for h.waiting.Load() != 2 {
		runtime.Gosched()
	}
	before := h.Evaluations()
	if _, err := h.Hash(t.Context(), "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash beyond the queue = %v, want ErrBusy", err)
	}
	if _, _, err := h.Verify(t.Context(), mustHash(t, NewHasher(fastParams)), "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Verify beyond the queue = %v, want ErrBusy", err)
	}
	if err := h.Fake(t.Context(), "x"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Fake beyond the queue = %v, want ErrBusy", err)
	}
	if h.Evaluations() != before {
		t.Fatal("a refused call was evaluated")
	}
	<-h.sem // free the slot: both queued callers run, one after the other
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("queued Hash: %v", err)
		}
	}
	if h.Evaluations() != before+2 || h.waiting.Load() != 0 {
		t.Fatalf("evaluations %d (want %d), waiting %d", h.Evaluations(), before+2, h.waiting.Load())
	}
}

func mustHash(t *testing.T, h *Hasher) string {
	t.Helper()
	phc, err := h.Hash(t.Context(), "some password")
	if err != nil {
		t.Fatal(err)
	}
	return phc
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func BenchmarkHash(b *testing.B) {
	h := NewHasher(Params{})
	for b.Loop() {
		if _, err := h.Hash(b.Context(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := NewHasher(Params{})
	phc, err := h.Hash(b.Context(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_, _, _ = h.Verify(b.Context(), phc, "correct horse battery staple")
	}
}

// BenchmarkVerifyParallel shows the throughput of all cores together with
// the semaphore in place (run with -cpu 1,2,4).
func BenchmarkVerifyParallel(b *testing.B) {
	h := NewHasher(Params{})
	phc, err := h.Hash(b.Context(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _, _ = h.Verify(context.Background(), phc, "correct horse battery staple")
		}
	})
}

func BenchmarkVerifyBcrypt10(b *testing.B) {
	h := NewHasher(Params{})
	raw, _ := bcrypt.GenerateFromPassword([]byte("imported"), 10)
	for b.Loop() {
		_, _, _ = h.Verify(b.Context(), string(raw), "imported")
	}
}

// Stored hashes come from imports too: parsing never panics, and anything
// Known can be verified without an ErrUnknownHash.
func FuzzKnown(f *testing.F) {
	h := NewHasher(fastParams)
	good, _ := h.Hash(context.Background(), "x")
	for _, s := range []string{good, "$2a$04$abcdefghijklmnopqrstuuZ5sS3E8xL7QmU0Gk3zJrQ3fH8o2Zb0a", "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "", "$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if Known(s) && !isBcrypt(s) {
			if ph, _ := decodePHC(s); ph.params.Memory > 1<<14 || ph.params.Time > 4 {
				return // valid but too costly to run in a fuzz loop
			}
			if _, _, err := h.Verify(context.Background(), s, "x"); err != nil {
				t.Fatalf("Known(%q) but Verify: %v", s, err)
			}
		}
	})
}
