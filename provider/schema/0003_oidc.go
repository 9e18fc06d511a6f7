package schema

import (
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// Frozen shapes of the OpenID provider's tables (provider/keys and
// provider/opstore own the live models). Secrets are never stored raw:
// client secrets, codes and refresh tokens are keyed hashes (hex), private
// keys are sealed with LATCHKEY_SECRET. List columns are JSON text.

// oidcSigningKey0003: one signing key. (alg, generation) is unique, so two
// instances that create or rotate at the same moment cannot both win.
type oidcSigningKey0003 struct {
	KID        string     `gorm:"column:kid;primaryKey;size:64"`
	Alg        string     `gorm:"size:16;not null;uniqueIndex:idx_oidc_signing_keys_alg_gen"`
	Generation int        `gorm:"not null;uniqueIndex:idx_oidc_signing_keys_alg_gen"`
	PrivateKey []byte     `gorm:"column:private_key_enc;not null"`
	PublicJWK  string     `gorm:"column:public_jwk;type:text;not null"`
	CreatedAt  time.Time  `gorm:"precision:6;not null"`
	NotBefore  time.Time  `gorm:"precision:6;not null"`
	RetireAt   *time.Time `gorm:"precision:6"`
	ExpiresAt  *time.Time `gorm:"precision:6;index"`
}

func (oidcSigningKey0003) TableName() string { return "oidc_signing_keys" }

type oidcClient0003 struct {
	ID                     string    `gorm:"primaryKey;size:64"`
	SecretHash             string    `gorm:"size:64;not null"`
	Name                   string    `gorm:"size:190;not null"`
	RedirectURIs           string    `gorm:"column:redirect_uris;type:text;not null"`
	PostLogoutRedirectURIs string    `gorm:"column:post_logout_redirect_uris;type:text;not null"`
	GrantTypes             string    `gorm:"type:text;not null"`
	Public                 bool      `gorm:"not null"`
	ThirdParty             bool      `gorm:"not null"`
	IDTokenAlg             string    `gorm:"column:id_token_alg;size:16;not null"`
	AccessTokenType        string    `gorm:"size:16;not null"`
	AccessTokenTTL         int64     `gorm:"column:access_token_ttl;not null"`
	IDTokenTTL             int64     `gorm:"column:id_token_ttl;not null"`
	RefreshIdleTTL         int64     `gorm:"column:refresh_idle_ttl;not null"`
	RefreshAbsoluteTTL     int64     `gorm:"column:refresh_absolute_ttl;not null"`
	CreatedAt              time.Time `gorm:"precision:6;not null"`
}

func (oidcClient0003) TableName() string { return "oidc_clients" }

type oidcAuthRequest0003 struct {
	ID                  string     `gorm:"primaryKey;size:64"`
	ClientID            string     `gorm:"size:64;not null;index"`
	RedirectURI         string     `gorm:"type:text;not null"`
	State               string     `gorm:"type:text;not null"`
	Nonce               string     `gorm:"type:text;not null"`
	Scopes              string     `gorm:"type:text;not null"`
	ResponseType        string     `gorm:"size:64;not null"`
	ResponseMode        string     `gorm:"size:32;not null"`
	CodeChallenge       string     `gorm:"size:128;not null"`
	CodeChallengeMethod string     `gorm:"size:16;not null"`
	Prompt              string     `gorm:"type:text;not null"`
	MaxAge              *int64     `gorm:"column:max_age"`
	UILocales           string     `gorm:"column:ui_locales;type:text;not null"`
	LoginHint           string     `gorm:"type:text;not null"`
	HintSubject         string     `gorm:"size:64;not null"`
	ACRValues           string     `gorm:"column:acr_values;type:text;not null"`
	UserID              string     `gorm:"size:64;not null;index"`
	SessionID           string     `gorm:"size:64;not null"`
	AuthTime            *time.Time `gorm:"precision:6"`
	AMR                 string     `gorm:"column:amr;type:text;not null"`
	Done                bool       `gorm:"not null"`
	CreatedAt           time.Time  `gorm:"precision:6;not null"`
	ExpiresAt           time.Time  `gorm:"precision:6;not null;index"`
}

func (oidcAuthRequest0003) TableName() string { return "oidc_auth_requests" }

// oidcAuthCode0003 outlives its auth request (until expiry) so a replayed
// code is recognised and the grant's tokens revoked.
type oidcAuthCode0003 struct {
	CodeHash      string     `gorm:"primaryKey;size:64"`
	AuthRequestID string     `gorm:"size:64;not null;uniqueIndex"`
	ClientID      string     `gorm:"size:64;not null"`
	ExpiresAt     time.Time  `gorm:"precision:6;not null;index"`
	UsedAt        *time.Time `gorm:"precision:6"`
}

func (oidcAuthCode0003) TableName() string { return "oidc_auth_codes" }

// oidcAccessToken0003: one row per issued access token.
type oidcAccessToken0003 struct {
	ID             string     `gorm:"primaryKey;size:64"`
	ClientID       string     `gorm:"size:64;not null;index"`
	Subject        string     `gorm:"size:64;not null;index"`
	GrantID        string     `gorm:"size:64;not null;index"`
	RefreshTokenID string     `gorm:"size:64;not null;index"`
	SessionID      string     `gorm:"size:64;not null;index"`
	Scopes         string     `gorm:"type:text;not null"`
	Audience       string     `gorm:"type:text;not null"`
	CreatedAt      time.Time  `gorm:"precision:6;not null"`
	ExpiresAt      time.Time  `gorm:"precision:6;not null;index"`
	RevokedAt      *time.Time `gorm:"precision:6"`
}

func (oidcAccessToken0003) TableName() string { return "oidc_access_tokens" }

// oidcRefreshToken0003: one row per issued refresh token; a rotation adds a
// row to the same family.
type oidcRefreshToken0003 struct {
	ID              string     `gorm:"primaryKey;size:64"`
	TokenHash       string     `gorm:"size:64;not null;uniqueIndex"`
	FamilyID        string     `gorm:"size:64;not null;index"`
	GrantID         string     `gorm:"size:64;not null;index"`
	ClientID        string     `gorm:"size:64;not null;index:idx_oidc_refresh_tokens_user_client,priority:2"`
	UserID          string     `gorm:"size:64;not null;index:idx_oidc_refresh_tokens_user_client,priority:1"`
	SessionID       string     `gorm:"size:64;not null;index"`
	Scopes          string     `gorm:"type:text;not null"`
	Audience        string     `gorm:"type:text;not null"`
	AMR             string     `gorm:"column:amr;type:text;not null"`
	AuthTime        time.Time  `gorm:"precision:6;not null"`
	CreatedAt       time.Time  `gorm:"precision:6;not null"`
	ExpiresAt       time.Time  `gorm:"precision:6;not null;index"`
	FamilyExpiresAt time.Time  `gorm:"precision:6;not null;index"`
	UsedAt          *time.Time `gorm:"precision:6"`
	RevokedAt       *time.Time `gorm:"precision:6"`
}

func (oidcRefreshToken0003) TableName() string { return "oidc_refresh_tokens" }

type oidcConsent0003 struct {
	UserID    string    `gorm:"primaryKey;size:64"`
	ClientID  string    `gorm:"primaryKey;size:64;index"`
	Scopes    string    `gorm:"type:text;not null"`
	GrantedAt time.Time `gorm:"precision:6;not null"`
}

func (oidcConsent0003) TableName() string { return "oidc_consents" }

// oidc0003 creates the OpenID provider's tables.
func oidc0003() *db.Migration {
	return &db.Migration{
		ID: "0003_oidc",
		Migrate: func(tx *gorm.DB) error {
			return db.CreateTables(tx, &oidcSigningKey0003{}, &oidcClient0003{}, &oidcAuthRequest0003{},
				&oidcAuthCode0003{}, &oidcAccessToken0003{}, &oidcRefreshToken0003{}, &oidcConsent0003{})
		},
	}
}
