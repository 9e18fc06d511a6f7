package authenticator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// State is everything the authenticator keeps.
type State struct {
	Devices []*Device `json:"devices"`
	// TOTP holds otpauth://totp/ URIs (the seeds the user scanned).
	TOTP []string `json:"totp"`
}

// Load reads the state file; a missing file is an empty state.
func Load(path string) (*State, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the state file the person running the authenticator chose
	if errors.Is(err, fs.ErrNotExist) {
		return &State{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("authenticator: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("authenticator: %s is not a valid state file: %w", path, err)
	}
	return &s, nil
}

// Save writes the state atomically with mode 0600.
func (s *State) Save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("authenticator: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".authenticator-*")
	if err != nil {
		return fmt.Errorf("authenticator: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("authenticator: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("authenticator: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("authenticator: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("authenticator: %w", err)
	}
	return nil
}

// ErrNotTOTP means the text is not an otpauth://totp/ URI with a secret.
var ErrNotTOTP = errors.New("authenticator: not an otpauth://totp/ URI with a secret")

// AddTOTP stores an otpauth://totp/ URI (once).
func (s *State) AddTOTP(uri string) (*otp.Key, error) {
	uri = strings.TrimSpace(uri)
	k, err := otp.NewKeyFromURL(uri)
	if err != nil || k.Type() != "totp" || k.Secret() == "" {
		return nil, ErrNotTOTP
	}
	// What the web app can compute too (WebCrypto has no MD5).
	switch k.Algorithm() {
	case otp.AlgorithmSHA1, otp.AlgorithmSHA256, otp.AlgorithmSHA512:
	default:
		return nil, ErrNotTOTP
	}
	if _, err := Code(k, time.Now()); err != nil {
		return nil, ErrNotTOTP
	}
	for _, u := range s.TOTP {
		if u == uri {
			return k, nil
		}
	}
	s.TOTP = append(s.TOTP, uri)
	return k, nil
}

// Code returns k's code at t.
func Code(k *otp.Key, t time.Time) (string, error) {
	period := uint(k.Period())
	if period == 0 {
		period = 30
	}
	digits := k.Digits()
	if digits == 0 {
		digits = otp.DigitsSix
	}
	return totp.GenerateCodeCustom(k.Secret(), t, totp.ValidateOpts{Period: period, Digits: digits, Algorithm: k.Algorithm()})
}

// Account is one TOTP account's current code.
type Account struct {
	Issuer, Name, Code string
	Remaining          time.Duration // until the code changes
}

// Codes returns the current code of every stored TOTP account.
func (s *State) Codes(now time.Time) ([]Account, error) {
	var out []Account
	for _, uri := range s.TOTP {
		k, err := otp.NewKeyFromURL(uri)
		if err != nil {
			return nil, ErrNotTOTP
		}
		code, err := Code(k, now)
		if err != nil {
			return nil, fmt.Errorf("authenticator: code for %s: %w", k.AccountName(), err)
		}
		p := int64(k.Period()) // #nosec G115 -- a TOTP period is seconds (30 or 60), nowhere near 2^63
		if p == 0 {
			p = 30
		}
		rem := time.Duration(p-now.Unix()%p) * time.Second
		out = append(out, Account{Issuer: k.Issuer(), Name: k.AccountName(), Code: code, Remaining: rem})
	}
	return out, nil
}
