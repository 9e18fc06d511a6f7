package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkeyid/latchkey/provider/password"
)

// Ceilings are the per-core rates of the operations that bound the
// scenarios, measured on one goroutine on this machine in the same run,
// per second of CPU time.
type Ceilings struct {
	RS256  float64 // JWS signatures per second, RSA-2048
	ES256  float64 // JWS signatures per second, P-256
	Argon2 float64 // password hashes per second at the configured cost
	Fsync  float64 // 4 KiB write + fsync per second (wall time) in the data directory
	Params password.Params
	Dir    string
}

// rate runs op for about d (at least minOps times) in five slices and
// returns the best slice's operations per second of this process's CPU
// time (nothing else runs in it meanwhile): a ceiling is what a core can
// do, and on a shared machine wall time would measure the neighbours too.
// It falls back to wall time where the CPU time cannot be read, and uses
// wall time when wall is set (fsync waits for the disk, not the CPU).
func rate(d time.Duration, minOps int, wall bool, op func() error) (float64, error) {
	best := 0.0
	for range 5 {
		start, cpu0 := time.Now(), processCPU()
		n := 0
		for ; n < max(minOps/5, 1) || time.Since(start) < d/5; n++ {
			if err := op(); err != nil {
				return 0, err
			}
		}
		spent := processCPU() - cpu0
		if wall || cpu0 < 0 || spent <= 0 {
			spent = time.Since(start)
		}
		best = max(best, float64(n)/spent.Seconds())
	}
	return best, nil
}

// processCPU is this process's user + system time (-1 if unknown).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// MeasureCeilings measures each ceiling for about d: signing a JWT of about
// 400 bytes as the token endpoint does, one Argon2id hash with params, and
// fsync of a file in dir.
func MeasureCeilings(ctx context.Context, d time.Duration, params password.Params, dir string) (Ceilings, error) {
	c := Ceilings{Params: params, Dir: dir}
	claims, _ := json.Marshal(map[string]any{
		"iss": "http://127.0.0.1:8080", "sub": "0f8fad5b-d9cb-469f-a165-70867728950e", "aud": []string{"latchkey-bench-client"},
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "nbf": time.Now().Unix(),
		"jti": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "client_id": "latchkey-bench-client", "scope": "openid profile email offline_access",
		"auth_time": time.Now().Unix(), "amr": []string{"pwd"}, "azp": "latchkey-bench-client", "at_hash": "HK6E_P6Dh8Y93mRNtsDB1Q", "sid": "a1b2c3d4e5f6",
	})
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return c, err
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return c, err
	}
	for _, s := range []struct {
		out *float64
		alg jose.SignatureAlgorithm
		key any
	}{{&c.RS256, jose.RS256, rsaKey}, {&c.ES256, jose.ES256, ecKey}} {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: s.alg, Key: s.key}, (&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			return c, err
		}
		if *s.out, err = rate(d, 10, false, func() error {
			jws, err := signer.Sign(claims)
			if err == nil {
				_, err = jws.CompactSerialize()
			}
			return err
		}); err != nil {
			return c, fmt.Errorf("bench: %s ceiling: %w", s.alg, err)
		}
	}
	h := password.NewHasher(params)
	if c.Argon2, err = rate(d, 5, false, func() error {
		_, err := h.Hash(ctx, "correct horse battery staple")
		return err
	}); err != nil {
		return c, fmt.Errorf("bench: argon2id ceiling: %w", err)
	}
	f, err := os.CreateTemp(dir, ".latchkey-bench-fsync-*")
	if err != nil {
		return c, fmt.Errorf("bench: fsync ceiling: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	block := make([]byte, 4096)
	if c.Fsync, err = rate(d, 10, true, func() error {
		if _, err := f.WriteAt(block, 0); err != nil {
			return err
		}
		return f.Sync()
	}); err != nil {
		return c, fmt.Errorf("bench: fsync ceiling: %w", err)
	}
	return c, nil
}

// String is the ceilings' report.
func (c Ceilings) String() string {
	return fmt.Sprintf("ceilings (one goroutine of the bench, per CPU-second):\n"+
		"  RS256 sign (RSA-2048)        %9.0f /s\n"+
		"  ES256 sign (P-256)           %9.0f /s\n"+
		"  argon2id m=%d KiB t=%d p=%d %9.1f /s\n"+
		"  fsync 4 KiB in %s %9.0f /s (wall time)\n",
		c.RS256, c.ES256, c.Params.Memory, c.Params.Time, c.Params.Threads, c.Argon2, c.Dir, c.Fsync)
}

// Bound returns the ceiling that bounds scenario and its name (0 when
// none does).
func (c Ceilings) Bound(scenario string) (float64, string) {
	switch scenario {
	case "cc-rs256", "refresh":
		// refresh: the bench's refresh client signs its ID tokens RS256.
		return c.RS256, "RS256 sign"
	case "cc-es256", "refresh-es256":
		return c.ES256, "ES256 sign"
	case "signin":
		return c.Argon2, "argon2id"
	case "recovery":
		// Two hashes: the current password refused (a reset must choose
		// another), the new one hashed.
		return c.Argon2 / 2, "argon2id x2"
	}
	return 0, ""
}
