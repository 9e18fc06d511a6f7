package push

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// What a device signs. Every message is a compact JWS (ES256, P-256) whose
// payload is one of the JSON objects below; "typ" keeps one kind from
// being replayed as another, and "aud" (the issuer) keeps it from being
// replayed at another server. The signature covers the exact bytes sent,
// so the signed payload is canonical by construction.
const (
	TypEnroll   = "latchkey-enroll"   // embedded "jwk" header: the new public key
	TypToken    = "latchkey-device"   // "kid" header: the device ID
	TypDecision = "latchkey-decision" // "kid" header: the device ID
)

// Decisions a device sends.
const (
	Approve = "approve"
	Deny    = "deny"
	Report  = "report" // "Deny, and report it"
)

// Token lifetime rules.
const (
	// MaxTokenLife is the longest a device token may live (exp - iat).
	MaxTokenLife = 2 * time.Minute
	// Skew is the clock difference tolerated between device and server.
	Skew = time.Minute
)

// EnrollClaims is the payload of an enrollment request.
type EnrollClaims struct {
	Typ      string `json:"typ"`
	Audience string `json:"aud"`
	Token    string `json:"token"`
	Name     string `json:"name,omitempty"`
	IssuedAt int64  `json:"iat"`
}

// TokenClaims is the payload of a device bearer token (one per request).
type TokenClaims struct {
	Typ      string `json:"typ"`
	Audience string `json:"aud"`
	Subject  string `json:"sub"` // device ID
	IssuedAt int64  `json:"iat"`
	Expires  int64  `json:"exp"`
	ID       string `json:"jti"`
}

// DecisionClaims is the payload of an approval or denial: the challenge,
// the decision and the number the user typed.
type DecisionClaims struct {
	Typ       string `json:"typ"`
	Audience  string `json:"aud"`
	Subject   string `json:"sub"` // device ID
	Challenge string `json:"chal"`
	Decision  string `json:"dec"`
	Number    string `json:"num,omitempty"`
	IssuedAt  int64  `json:"iat"`
}

var (
	errBadSignature = errors.New("push: bad signature")
	errUnknown      = errors.New("push: unknown device")
	errReplay       = errors.New("push: token already used")
	errClaims       = errors.New("push: bad claims")
)

// ValidDeviceKey checks that k is a P-256 public key only.
func ValidDeviceKey(k *jose.JSONWebKey) (*ecdsa.PublicKey, error) {
	if k == nil || !k.Valid() || !k.IsPublic() {
		return nil, errors.New("push: device key must be a public JWK")
	}
	pub, ok := k.Key.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("push: device key must be EC P-256")
	}
	return pub, nil
}

func parse(s string) (*jose.JSONWebSignature, error) {
	if len(s) > 8192 {
		return nil, errBadSignature
	}
	jws, err := jose.ParseSigned(s, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errBadSignature
	}
	return jws, nil
}

// openEnroll verifies an enrollment request: signed by the key it embeds.
func (m *Method) openEnroll(s string) (EnrollClaims, *jose.JSONWebKey, error) {
	var c EnrollClaims
	jws, err := parse(s)
	if err != nil {
		return c, nil, err
	}
	jwk := jws.Signatures[0].Protected.JSONWebKey
	pub, err := ValidDeviceKey(jwk)
	if err != nil {
		return c, nil, err
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return c, nil, errBadSignature
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Typ != TypEnroll || c.Audience != m.base.String() || c.Token == "" {
		return c, nil, errClaims
	}
	return c, jwk, nil
}

// device loads the device named in a JWS's kid and verifies the JWS with
// its key. A device whose enrollment was removed is unknown.
func (m *Method) device(ctx context.Context, s string) (deviceRow, []byte, error) {
	var d deviceRow
	jws, err := parse(s)
	if err != nil {
		return d, nil, err
	}
	kid := jws.Signatures[0].Protected.KeyID
	if kid == "" || len(kid) > 32 {
		return d, nil, errUnknown
	}
	err = m.g.WithContext(ctx).Where("id = ?", kid).Take(&d).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return d, nil, errUnknown
	}
	if err != nil {
		return d, nil, fmt.Errorf("push: device: %w", err)
	}
	if _, err := m.store.Get(ctx, d.UserID, d.ID); err != nil {
		return d, nil, errUnknown // never finished, or removed from security info
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(d.PublicKey); err != nil {
		return d, nil, fmt.Errorf("push: device key: %w", err)
	}
	pub, err := ValidDeviceKey(&jwk)
	if err != nil {
		return d, nil, fmt.Errorf("push: device key: %w", err)
	}
	payload, err := jws.Verify(pub)
	if err != nil {
		return d, nil, errBadSignature
	}
	return d, payload, nil
}

// authenticate checks a device bearer token: signed by an enrolled
// device, short-lived, for this server, and never seen before.
func (m *Method) authenticate(ctx context.Context, token string) (deviceRow, error) {
	d, payload, err := m.device(ctx, token)
	if err != nil {
		return d, err
	}
	var c TokenClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.Typ != TypToken || c.Audience != m.base.String() ||
		c.Subject != d.ID || c.ID == "" || len(c.ID) > 64 {
		return d, errClaims
	}
	now := m.now()
	iat, exp := time.Unix(c.IssuedAt, 0), time.Unix(c.Expires, 0)
	if exp.Sub(iat) > MaxTokenLife || exp.Before(iat) || iat.After(now.Add(Skew)) || !now.Before(exp.Add(Skew)) {
		return d, errClaims
	}
	// Replay protection: the token's ID is remembered until it could no
	// longer pass the time check anyway.
	keys := m.keys.MACs("push-jti", d.ID, c.ID)
	res := m.g.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&nonceRow{Key: hex.EncodeToString(keys[0]), ExpiresAt: exp.Add(Skew).UTC()})
	if res.Error != nil {
		return d, fmt.Errorf("push: nonce: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return d, errReplay
	}
	// While LATCHKEY_SECRET is rotated, a token seen just before the
	// switch is remembered under the previous secret's key.
	for _, k := range keys[1:] {
		var n int64
		if err := m.g.WithContext(ctx).Model(&nonceRow{}).Where("`key` = ?", hex.EncodeToString(k)).Count(&n).Error; err != nil {
			return d, fmt.Errorf("push: nonce: %w", err)
		}
		if n > 0 {
			return d, errReplay
		}
	}
	_ = m.g.WithContext(ctx).Model(&deviceRow{}).Where("id = ?", d.ID).Update("last_seen_at", now).Error
	return d, nil
}
