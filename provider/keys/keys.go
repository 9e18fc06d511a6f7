package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/cachever"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// Alg is a supported signature algorithm.
type Alg = jose.SignatureAlgorithm

// The algorithms Latchkey signs with. RS256 is the default: OIDC Core
// requires it and every relying party accepts it.
const (
	RS256 Alg = jose.RS256
	ES256 Alg = jose.ES256
)

// Algs lists the supported algorithms, default first.
var Algs = []Alg{RS256, ES256}

// Errors.
var (
	ErrUnsupportedAlg = errors.New("keys: unsupported algorithm (RS256 or ES256)")
	ErrNoKey          = errors.New("keys: no active signing key (run Ensure)")
)

// Defaults.
const (
	// DefaultRefreshEvery is how long an instance serves its cached keys
	// before it reads them again. A change made through Latchkey (a
	// rotation) is seen sooner, within cachever.DefaultEvery, through the
	// change counter; this interval is the bound when that read fails, so
	// the publish-ahead rules below still rest on it.
	DefaultRefreshEvery = 30 * time.Second
	// JWKSMaxAge is the Cache-Control max-age of the /keys document: an
	// HTTP cache in front of a relying party may hold a key set that long.
	JWKSMaxAge = 5 * time.Minute
	// DefaultPublishLead is how long a rotated-in key is published before
	// any instance signs with it. It must outlast every cache a key set
	// passes through: an instance's own cache (DefaultRefreshEvery) plus an
	// HTTP cache honouring JWKSMaxAge; 15 minutes is more than twice their
	// sum (2 x 5m30s), so a relying party holding the oldest allowed copy
	// still knows the key before the first token signed with it.
	DefaultPublishLead = 15 * time.Minute
	// DefaultRetention keeps a retired public key published for a day: longer
	// than any ID token or JWT access token lives, and long enough for
	// id_token_hint at logout (the OP accepts expired hints, but their
	// signature must still verify).
	DefaultRetention = 24 * time.Hour
	rsaBits          = 2048
	boxPurpose       = "signing-keys"
)

// Row is the live model of oidc_signing_keys (frozen shape in
// provider/schema/0003_oidc.go).
type Row struct {
	KID        string `gorm:"column:kid;primaryKey"`
	Alg        string
	Generation int
	PrivateKey []byte `gorm:"column:private_key_enc"`
	PublicJWK  string `gorm:"column:public_jwk"`
	CreatedAt  time.Time
	NotBefore  time.Time
	RetireAt   *time.Time
	ExpiresAt  *time.Time
}

// TableName implements gorm's Tabler.
func (Row) TableName() string { return "oidc_signing_keys" }

// Info describes a key for `latchkey keys list`; it never holds private
// material.
type Info struct {
	KID        string
	Alg        Alg
	Generation int
	CreatedAt  time.Time
	NotBefore  time.Time  // signs from then on (published from CreatedAt)
	RetireAt   *time.Time // nil while the key signs and no successor is due
	ExpiresAt  *time.Time // removed from JWKS after; nil like RetireAt
	Active     bool       // signs new tokens of its algorithm
	Pending    bool       // published, signing from NotBefore
}

// SigningKey is a private key ready to sign. It satisfies zitadel's
// op.SigningKey.
type SigningKey struct {
	kid string
	alg Alg
	key crypto.Signer
}

func (k *SigningKey) ID() string                                  { return k.kid }
func (k *SigningKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *SigningKey) Key() any                                    { return k.key }

// PublicKey is a published verification key. It satisfies zitadel's op.Key.
type PublicKey struct {
	kid string
	alg Alg
	key crypto.PublicKey
}

func (k *PublicKey) ID() string                         { return k.kid }
func (k *PublicKey) Algorithm() jose.SignatureAlgorithm { return k.alg }
func (k *PublicKey) Use() string                        { return "sig" }
func (k *PublicKey) Key() any                           { return k.key }

// Option configures a Manager.
type Option func(*Manager)

// WithClock injects the clock (tests move it instead of sleeping).
func WithClock(now func() time.Time) Option { return func(m *Manager) { m.now = now } }

// WithRefreshEvery sets how often the cache is reloaded from the database.
func WithRefreshEvery(d time.Duration) Option {
	return func(m *Manager) {
		if d > 0 {
			m.refreshEvery = d
		}
	}
}

// WithPublishLead sets how long a rotated-in key is published before it
// signs (see DefaultPublishLead); it must be longer than the refresh
// interval of every instance on the database, or a token may be signed
// with a key that some instance's JWKS does not list yet.
func WithPublishLead(d time.Duration) Option {
	return func(m *Manager) {
		if d > 0 {
			m.publishLead = d
		}
	}
}

// WithRetention sets how long a retired key stays published: at least the
// longest lifetime of a token it can have signed (ID tokens, JWT access
// tokens) plus the window in which id_token_hints are accepted.
func WithRetention(d time.Duration) Option {
	return func(m *Manager) {
		if d > 0 {
			m.retention = d
		}
	}
}

// Manager loads, caches, creates and rotates signing keys.
type Manager struct {
	g            *gorm.DB
	box          *secret.Box
	now          func() time.Time
	refreshEvery time.Duration
	publishLead  time.Duration
	retention    time.Duration
	versions     *cachever.Watch

	mu      sync.RWMutex
	snap    *snapshot
	loading sync.Mutex // one reload at a time
}

// snapshot is an immutable view of the keys; readers never lock for long.
// The signer and the JWKS come from the same snapshot, so a key this
// instance signs with is always in the key set it publishes.
type snapshot struct {
	loadedAt time.Time
	// signing holds every published key of an algorithm, newest generation
	// first, with the time it starts signing: the choice is made at signing
	// time, so a key whose publish-ahead period ends between two reloads
	// takes over on time, and only once it has been published.
	signing map[Alg][]candidate
	public  []*PublicKey
	algs    []jose.SignatureAlgorithm
	jwks    []byte
	parsed  map[string]*SigningKey // by kid, reused across reloads
	version string                 // kids+retire state, to skip rebuilding jwks
	counter int64                  // the keys change counter it was loaded under
}

// New returns a Manager on g (migrated with provider/schema); kr seals the
// private keys.
func New(g *gorm.DB, kr *secret.Keyring, opts ...Option) *Manager {
	m := &Manager{
		g:            g,
		box:          kr.Box(boxPurpose),
		now:          time.Now,
		refreshEvery: DefaultRefreshEvery,
		publishLead:  DefaultPublishLead,
		retention:    DefaultRetention,
	}
	for _, o := range opts {
		o(m)
	}
	m.versions = cachever.New(g, m.now, cachever.DefaultEvery)
	return m
}

func (m *Manager) clock() time.Time { return m.now().UTC() }

// Ensure creates the first RS256 and ES256 keys when none is active, then
// loads the cache. Safe when several instances start at once. A first key
// signs at once: no relying party holds a key set that could lack it.
func (m *Manager) Ensure(ctx context.Context) error {
	var have []string
	if err := m.g.WithContext(ctx).Model(&Row{}).Distinct("alg").Pluck("alg", &have).Error; err != nil {
		return fmt.Errorf("keys: ensure: %w", err)
	}
	for _, alg := range Algs {
		// Generating a key (an RSA-2048 one takes 50-500 ms) only to find
		// one exists made every start slow: look first, then let create
		// settle a race with another instance starting at once.
		if slices.Contains(have, string(alg)) {
			continue
		}
		if _, err := m.create(ctx, alg, 0, 0); err != nil {
			return fmt.Errorf("keys: ensure %s: %w", alg, err)
		}
	}
	return m.Refresh(ctx)
}

// Rotate adds a new key of alg, published at once and signing after the
// publish-ahead period; the previous key signs until then, and stays
// published for the retention period after it. When another instance
// rotates at the same moment, one rotation wins and both callers see its
// key.
func (m *Manager) Rotate(ctx context.Context, alg Alg) (Info, error) {
	if !slices.Contains(Algs, alg) {
		return Info{}, ErrUnsupportedAlg
	}
	var cur []Row
	if err := m.g.WithContext(ctx).Select("generation").Where("alg = ?", string(alg)).
		Order("generation DESC").Limit(1).Find(&cur).Error; err != nil {
		return Info{}, fmt.Errorf("keys: rotate %s: %w", alg, err)
	}
	gen := 0
	if len(cur) == 1 {
		gen = cur[0].Generation
	}
	info, err := m.create(ctx, alg, gen, m.publishLead)
	if err != nil {
		return Info{}, fmt.Errorf("keys: rotate %s: %w", alg, err)
	}
	if err := m.Refresh(ctx); err != nil {
		return Info{}, err
	}
	return info, nil
}

// create inserts generation after+1 of alg in one transaction, signing
// lead after now, and retires the older keys when it starts to sign. When the newest generation is no longer after (another
// instance created or rotated first), it does nothing: the caller's intent
// is already fulfilled. The (alg, generation) unique index settles exact
// races on MySQL; SQLite serialises the transactions.
func (m *Manager) create(ctx context.Context, alg Alg, after int, lead time.Duration) (Info, error) {
	row, err := m.newRow(alg)
	if err != nil {
		return Info{}, err
	}
	var created Info
	err = db.Transact(ctx, m.g, "keys.create", func(tx *gorm.DB) error {
		var cur []Row
		if err := tx.Select("kid", "generation", "retire_at").Where("alg = ?", string(alg)).
			Order("generation DESC").Limit(1).Find(&cur).Error; err != nil {
			return err
		}
		gen := 0
		if len(cur) == 1 {
			gen = cur[0].Generation
		}
		if gen != after {
			return errExists
		}
		row.Generation = after + 1
		row.NotBefore = row.CreatedAt.Add(lead)
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		// The previous key (or a still pending one) signs until the new
		// one takes over, then verifies its tokens for the retention period.
		retire := row.NotBefore
		if err := tx.Model(&Row{}).Where("alg = ? AND kid <> ? AND retire_at IS NULL", string(alg), row.KID).
			Updates(map[string]any{"retire_at": retire, "expires_at": retire.Add(m.retention)}).Error; err != nil {
			return err
		}
		if err := cachever.Bump(tx, cachever.Keys); err != nil {
			return err
		}
		created = info(&row, m.clock())
		return nil
	})
	switch {
	case err == nil:
		return created, nil
	case errors.Is(err, errExists) || errors.Is(err, gorm.ErrDuplicatedKey):
		// Another instance created or rotated concurrently: its key is the
		// active one now, which is what the caller wanted.
		return m.active(ctx, alg)
	default:
		return Info{}, err
	}
}

var errExists = errors.New("keys: active key exists")

// active returns the newest key of alg: the one signing, or the one about
// to sign once its publish-ahead period ends.
func (m *Manager) active(ctx context.Context, alg Alg) (Info, error) {
	var r Row
	err := m.g.WithContext(ctx).Where("alg = ? AND retire_at IS NULL", string(alg)).
		Order("generation DESC").Take(&r).Error
	if err != nil {
		return Info{}, err
	}
	return info(&r, m.clock()), nil
}

// info describes r at now: pending before its not_before, active from then
// until its retire_at.
func info(r *Row, now time.Time) Info {
	pending := r.NotBefore.After(now)
	active := !pending && (r.RetireAt == nil || r.RetireAt.After(now))
	return Info{KID: r.KID, Alg: Alg(r.Alg), Generation: r.Generation, CreatedAt: r.CreatedAt,
		NotBefore: r.NotBefore, RetireAt: r.RetireAt, ExpiresAt: r.ExpiresAt, Active: active, Pending: pending}
}

// newRow generates a key of alg and seals its private part under its kid.
func (m *Manager) newRow(alg Alg) (Row, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return Row{}, ErrUnsupportedAlg
	}
	if err != nil {
		return Row{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return Row{}, err
	}
	kid := rand.Text()
	pub, err := json.Marshal(jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: string(alg), Use: "sig"})
	if err != nil {
		return Row{}, err
	}
	now := m.clock()
	return Row{
		KID: kid, Alg: string(alg), PrivateKey: m.box.Seal(der, []byte(kid)), PublicJWK: string(pub),
		CreatedAt: now, NotBefore: now,
	}, nil
}

// List returns every stored key, newest first.
func (m *Manager) List(ctx context.Context) ([]Info, error) {
	var rows []Row
	if err := m.g.WithContext(ctx).Omit("private_key_enc").Order("created_at DESC, generation DESC").
		Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("keys: list: %w", err)
	}
	now := m.clock()
	out := make([]Info, len(rows))
	for i := range rows {
		out[i] = info(&rows[i], now)
	}
	return out, nil
}

// Cleanup deletes keys whose publication period has ended.
func (m *Manager) Cleanup(ctx context.Context) (int64, error) {
	res := m.g.WithContext(ctx).Where("expires_at IS NOT NULL AND expires_at < ?", m.clock()).Delete(&Row{})
	if res.Error != nil {
		return 0, fmt.Errorf("keys: cleanup: %w", res.Error)
	}
	return res.RowsAffected, nil
}
