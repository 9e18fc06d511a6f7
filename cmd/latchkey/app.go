package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/provider/config"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/password"
	providerschema "github.com/latchkeyid/latchkey/provider/schema"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
)

// app is what every command runs with: the parsed configuration, the
// process's streams and, once opened, the database.
type app struct {
	ctx    context.Context
	cfg    config.Config
	stdin  *bufio.Reader
	stdout io.Writer
	stderr io.Writer

	g    *gorm.DB
	keys *secret.Keyring

	// onListen, when set (tests), is told the address serve listens on.
	onListen func(addr string)
}

func (a *app) close() {
	if a.g != nil {
		db.Close(a.g)
		a.g = nil
	}
}

// migrationSets are applied by `migrate`, `serve` and before every admin
// command, in order: the provider's tables first, then the SSPR plugin's.
func migrationSets() []db.Set {
	return []db.Set{providerschema.Set(), schema.Set()}
}

// Settings each kind of command depends on; the others are not validated,
// so `latchkey user list` works without a secret or SMTP settings.
var (
	dbVars     = []string{"LATCHKEY_DATABASE", "LATCHKEY_DATA_DIR"}
	secretVars = []string{"LATCHKEY_SECRET", "LATCHKEY_SECRET_PREVIOUS"}
	userVars   = []string{"LATCHKEY_ARGON2_MEMORY", "LATCHKEY_ARGON2_TIME", "LATCHKEY_ARGON2_THREADS",
		"LATCHKEY_PASSWORD_MIN_LENGTH", "LATCHKEY_LOCKOUT_THRESHOLD", "LATCHKEY_LOCKOUT_BASE", "LATCHKEY_LOCKOUT_MAX"}
)

// check validates the settings named by vars (all of them when none).
func (a *app) check(vars ...[]string) error {
	var all []string
	for _, v := range vars {
		all = append(all, v...)
	}
	return a.cfg.ValidateOnly(all...)
}

// database opens and migrates the configured database once per process.
func (a *app) database() (*gorm.DB, error) {
	if a.g != nil {
		return a.g, nil
	}
	if err := a.check(dbVars); err != nil {
		return nil, err
	}
	g, err := db.Open(a.ctx, a.cfg.Database)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", db.Redact(a.cfg.Database), err)
	}
	for _, s := range migrationSets() {
		if err := db.Migrate(a.ctx, g, s); err != nil {
			db.Close(g)
			return nil, err
		}
	}
	a.g = g
	return g, nil
}

// keyring returns the master secret: LATCHKEY_SECRET, or in dev mode the
// secret generated into the data directory (created on first use, 0600).
func (a *app) keyring() (*secret.Keyring, error) {
	if a.keys != nil {
		return a.keys, nil
	}
	if err := a.check(secretVars); err != nil {
		return nil, err
	}
	s := a.cfg.Secret
	if s == "" && a.cfg.Dev {
		var err error
		if s, err = devSecret(a.cfg.DataDir); err != nil {
			return nil, err
		}
	}
	k, err := secret.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("LATCHKEY_SECRET: %w", err)
	}
	if a.cfg.SecretPrevious != "" {
		prev, err := secret.Parse(a.cfg.SecretPrevious)
		if err != nil {
			return nil, fmt.Errorf("LATCHKEY_SECRET_PREVIOUS: %w", err)
		}
		k = k.WithPrevious(prev)
	}
	a.keys = k
	return k, nil
}

// devSecret reads dir/secret, creating it with a fresh secret the first
// time. The file is 0600 and the directory 0700: it is the key to every
// sealed value in the dev database.
func devSecret(dir string) (string, error) {
	path := filepath.Join(dir, "secret")
	if b, err := os.ReadFile(path); err == nil { // #nosec G304 -- inside the operator's LATCHKEY_DATA_DIR
		s := strings.TrimSpace(string(b))
		if _, err := secret.Parse(s); err != nil {
			return "", fmt.Errorf("%s: %w (delete the file to generate a new one)", path, err)
		}
		return s, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("dev secret: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("dev secret: %w", err)
	}
	s := secret.Generate()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- inside the operator's LATCHKEY_DATA_DIR
	if errors.Is(err, os.ErrExist) {
		return devSecret(dir) // another process created it first: use theirs
	}
	if err != nil {
		return "", fmt.Errorf("dev secret: %w", err)
	}
	if _, err := f.WriteString(s + "\n"); err != nil {
		_ = f.Close()
		return "", fmt.Errorf("dev secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("dev secret: %w", err)
	}
	return s, nil
}

func (a *app) hasher() *password.Hasher {
	return password.NewHasher(password.Params{
		Memory:  a.cfg.Argon2Memory,
		Time:    a.cfg.Argon2Time,
		Threads: a.cfg.Argon2Threads,
	})
}

func (a *app) policy() password.Policy {
	p := password.DefaultPolicy
	p.MinLength = a.cfg.PasswordMinLength
	return p
}

// users returns the user directory on the opened database.
func (a *app) users() (*user.Store, error) {
	if err := a.check(userVars); err != nil {
		return nil, err
	}
	g, err := a.database()
	if err != nil {
		return nil, err
	}
	opts := []user.Option{user.WithLockout(user.Lockout{
		Threshold: a.cfg.LockoutThreshold, Base: a.cfg.LockoutBase, Max: a.cfg.LockoutMax,
	})}
	// The keyring only enables "a repeated wrong password counts once";
	// admin commands work without a secret.
	if a.cfg.Secret != "" || a.cfg.Dev {
		k, err := a.keyring()
		if err != nil {
			return nil, err
		}
		opts = append(opts, user.WithKeyring(k))
	}
	return user.NewStore(g, a.hasher(), opts...), nil
}

// readSecret reads one line from stdin: the whole line is the secret,
// spaces included (passwords may contain them); only the line ending goes.
func (a *app) readSecret(what string) (string, error) {
	line, err := a.stdin.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", usageError{fmt.Errorf("the %s on stdin is too long", what)}
	case err != nil && !errors.Is(err, io.EOF):
		return "", fmt.Errorf("read %s from stdin: %w", what, err)
	}
	return a.trimSecret(what, string(line))
}

func (a *app) trimSecret(what, line string) (string, error) {
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", usageError{fmt.Errorf("no %s on stdin (pipe it in, e.g. printf '%%s\\n' \"$VALUE\" | latchkey ...)", what)}
	}
	return line, nil
}
