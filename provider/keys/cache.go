package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/latchkeyid/latchkey/provider/cachever"
)

// Refresh reloads the keys from the database now. Private keys already
// parsed are reused, so a reload costs one small SELECT; the JWKS bytes are
// rebuilt only when the published set changed.
func (m *Manager) Refresh(ctx context.Context) error {
	m.loading.Lock()
	defer m.loading.Unlock()
	return m.reload(ctx)
}

func (m *Manager) reload(ctx context.Context) error {
	now := m.clock()
	// Read the counter before the rows, so the rows are at least as new.
	counter := m.versions.Version(ctx, cachever.Keys)
	var rows []Row
	if err := m.g.WithContext(ctx).
		Where("expires_at IS NULL OR expires_at > ?", now).
		Order("generation DESC").Find(&rows).Error; err != nil {
		return fmt.Errorf("keys: load: %w", err)
	}
	old := m.current()
	next := &snapshot{loadedAt: now, counter: counter, signing: map[Alg][]candidate{}, parsed: map[string]*SigningKey{}}
	var version strings.Builder
	for i := range rows {
		r := &rows[i]
		k := old.parsedKey(r.KID)
		if k == nil {
			var err error
			if k, err = m.parse(r); err != nil {
				return err
			}
		}
		next.parsed[r.KID] = k
		next.public = append(next.public, &PublicKey{kid: k.kid, alg: k.alg, key: k.key.Public()})
		// Rows are newest generation first, and so are the candidates.
		next.signing[k.alg] = append(next.signing[k.alg], candidate{key: k, notBefore: r.NotBefore})
		if !slices.Contains(next.algs, k.alg) {
			next.algs = append(next.algs, k.alg)
		}
		version.WriteString(r.KID + ";")
	}
	for alg, cs := range next.signing {
		// Only the newest key already signing and the ones due after it
		// can ever be chosen; older keys only verify.
		for i, c := range cs {
			if !c.notBefore.After(now) {
				next.signing[alg] = cs[:i+1]
				break
			}
		}
	}
	// RS256 first: discovery lists the default algorithm first.
	slices.SortFunc(next.algs, func(a, b jose.SignatureAlgorithm) int { return strings.Compare(string(b), string(a)) })
	next.version = version.String()
	if old != nil && old.version == next.version {
		next.jwks = old.jwks
	} else {
		set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(next.public))}
		for _, p := range next.public {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: p.key, KeyID: p.kid, Algorithm: string(p.alg), Use: "sig"})
		}
		b, err := json.Marshal(set)
		if err != nil {
			return fmt.Errorf("keys: jwks: %w", err)
		}
		next.jwks = b
	}
	m.mu.Lock()
	m.snap = next
	m.mu.Unlock()
	return nil
}

// candidate is a published key with the time it starts signing.
type candidate struct {
	key       *SigningKey
	notBefore time.Time
}

// signer returns the newest key of alg whose publish-ahead period has
// ended at now.
func (s *snapshot) signer(alg Alg, now time.Time) *SigningKey {
	for _, c := range s.signing[alg] {
		if !c.notBefore.After(now) {
			return c.key
		}
	}
	return nil
}

func (s *snapshot) parsedKey(kid string) *SigningKey {
	if s == nil {
		return nil
	}
	return s.parsed[kid]
}

// parse opens and parses one private key (once per kid and process).
func (m *Manager) parse(r *Row) (*SigningKey, error) {
	der, err := m.box.Open(r.PrivateKey, []byte(r.KID))
	if err != nil {
		return nil, fmt.Errorf("keys: open key %s (was LATCHKEY_SECRET changed?): %w", r.KID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("keys: parse key %s: %w", r.KID, err)
	}
	alg := Alg(r.Alg)
	var ok bool
	switch alg {
	case RS256:
		_, ok = parsed.(*rsa.PrivateKey)
	case ES256:
		_, ok = parsed.(*ecdsa.PrivateKey)
	}
	if !ok {
		return nil, fmt.Errorf("keys: key %s: %w (%s holds %T)", r.KID, ErrUnsupportedAlg, r.Alg, parsed)
	}
	return &SigningKey{kid: r.KID, alg: alg, key: parsed.(crypto.Signer)}, nil
}

func (m *Manager) current() *snapshot {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.snap
}

// view returns a fresh-enough snapshot: younger than the refresh interval
// and loaded under the current change counter. When the cache is stale,
// one caller reloads while the others keep using the previous snapshot;
// only the very first load makes callers wait.
func (m *Manager) view(ctx context.Context) (*snapshot, error) {
	s := m.current()
	if s != nil && m.clock().Sub(s.loadedAt) < m.refreshEvery && m.versions.Version(ctx, cachever.Keys) == s.counter {
		return s, nil
	}
	if s == nil {
		if err := m.Refresh(ctx); err != nil {
			return nil, err
		}
		return m.current(), nil
	}
	if m.loading.TryLock() {
		defer m.loading.Unlock()
		if err := m.reload(ctx); err != nil {
			// Keep serving the keys we have: a database hiccup must not stop
			// token signing. The next call retries.
			slog.WarnContext(ctx, "keys: refresh failed, serving cached keys", "err", err)
			return s, nil
		}
		return m.current(), nil
	}
	return s, nil
}

// Signing returns the active private key of alg.
func (m *Manager) Signing(ctx context.Context, alg Alg) (*SigningKey, error) {
	s, err := m.view(ctx)
	if err != nil {
		return nil, err
	}
	if k := s.signer(alg, m.clock()); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("%w for %s", ErrNoKey, alg)
}

// KeySet returns every published public key: the active ones and the
// retired ones still verifying live tokens.
func (m *Manager) KeySet(ctx context.Context) ([]*PublicKey, error) {
	s, err := m.view(ctx)
	if err != nil {
		return nil, err
	}
	return s.public, nil
}

// JWKS returns the published keys as a prepared JSON Web Key Set document.
// The slice is shared: do not modify it.
func (m *Manager) JWKS(ctx context.Context) ([]byte, error) {
	s, err := m.view(ctx)
	if err != nil {
		return nil, err
	}
	return s.jwks, nil
}

// Algorithms returns the algorithms of the published keys, RS256 first.
func (m *Manager) Algorithms(ctx context.Context) ([]jose.SignatureAlgorithm, error) {
	s, err := m.view(ctx)
	if err != nil {
		return nil, err
	}
	return s.algs, nil
}
