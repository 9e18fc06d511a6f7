package opstore

import (
	"time"
)

// Live models of the tables created by provider/schema/0003_oidc.go.

type clientRow struct {
	ID                     string   `gorm:"primaryKey"`
	SecretHash             string   `gorm:"column:secret_hash"`
	Name                   string   `gorm:"column:name"`
	RedirectURIs           []string `gorm:"column:redirect_uris;serializer:json"`
	PostLogoutRedirectURIs []string `gorm:"column:post_logout_redirect_uris;serializer:json"`
	GrantTypes             []string `gorm:"column:grant_types;serializer:json"`
	Public                 bool     `gorm:"column:public"`
	ThirdParty             bool     `gorm:"column:third_party"`
	IDTokenAlg             string   `gorm:"column:id_token_alg"`
	AccessTokenType        string   `gorm:"column:access_token_type"`
	AccessTokenTTL         int64    `gorm:"column:access_token_ttl"`
	IDTokenTTL             int64    `gorm:"column:id_token_ttl"`
	RefreshIdleTTL         int64    `gorm:"column:refresh_idle_ttl"`
	RefreshAbsoluteTTL     int64    `gorm:"column:refresh_absolute_ttl"`
	// LogoURI is the app's logo on its sign-in page (0008_client_logo).
	// Nullable: rows from before the column read as "".
	LogoURI *string `gorm:"column:logo_uri"`
	// AdminAPI lets the client's client-credentials tokens carry
	// ScopeAdmin (0010_client_admin).
	AdminAPI bool `gorm:"column:admin_api"`
	// PreviousSecretHash still authenticates the client until
	// PreviousSecretExpiresAt: the grace period of a regenerated secret.
	PreviousSecretHash      *string    `gorm:"column:previous_secret_hash"`
	PreviousSecretExpiresAt *time.Time `gorm:"column:previous_secret_expires_at"`
	CreatedAt               time.Time
}

func (clientRow) TableName() string { return "oidc_clients" }

type authRequestRow struct {
	ID                  string `gorm:"primaryKey"`
	ClientID            string
	RedirectURI         string
	State               string
	Nonce               string
	Scopes              []string `gorm:"serializer:json"`
	ResponseType        string
	ResponseMode        string
	CodeChallenge       string
	CodeChallengeMethod string
	Prompt              []string `gorm:"serializer:json"`
	MaxAge              *int64   `gorm:"column:max_age"`
	UILocales           []string `gorm:"column:ui_locales;serializer:json"`
	LoginHint           string
	HintSubject         string
	ACRValues           []string `gorm:"column:acr_values;serializer:json"`
	UserID              string
	SessionID           string
	AuthTime            *time.Time
	AMR                 []string `gorm:"column:amr;serializer:json"`
	Done                bool
	CreatedAt           time.Time
	ExpiresAt           time.Time
}

func (authRequestRow) TableName() string { return "oidc_auth_requests" }

type authCodeRow struct {
	CodeHash      string `gorm:"primaryKey"`
	AuthRequestID string
	ClientID      string
	ExpiresAt     time.Time
	UsedAt        *time.Time
}

func (authCodeRow) TableName() string { return "oidc_auth_codes" }

type accessTokenRow struct {
	ID             string `gorm:"primaryKey"`
	ClientID       string
	Subject        string
	GrantID        string
	RefreshTokenID string
	SessionID      string
	Scopes         []string `gorm:"serializer:json"`
	Audience       []string `gorm:"serializer:json"`
	CreatedAt      time.Time
	ExpiresAt      time.Time
	RevokedAt      *time.Time
}

func (accessTokenRow) TableName() string { return "oidc_access_tokens" }

type refreshTokenRow struct {
	ID              string `gorm:"primaryKey"`
	TokenHash       string
	FamilyID        string
	GrantID         string
	ClientID        string
	UserID          string
	SessionID       string
	Scopes          []string `gorm:"serializer:json"`
	Audience        []string `gorm:"serializer:json"`
	AMR             []string `gorm:"column:amr;serializer:json"`
	AuthTime        time.Time
	CreatedAt       time.Time
	ExpiresAt       time.Time
	FamilyExpiresAt time.Time
	UsedAt          *time.Time
	RevokedAt       *time.Time
}

func (refreshTokenRow) TableName() string { return "oidc_refresh_tokens" }

type consentRow struct {
	UserID    string   `gorm:"primaryKey"`
	ClientID  string   `gorm:"primaryKey"`
	Scopes    []string `gorm:"serializer:json"`
	GrantedAt time.Time
}

func (consentRow) TableName() string { return "oidc_consents" }
