package provider

import (
	"context"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// Storage is what the provider needs from provider/opstore: the zitadel
// storage with the optional interfaces Latchkey uses, plus the few
// operations the sign-in pages perform on auth requests, clients and
// consents. *opstore.Storage implements it.
type Storage interface {
	op.Storage
	op.ClientCredentialsStorage
	op.CanSetUserinfoFromRequest

	// CompleteAuthRequest marks the pending, unexpired auth request id as
	// authenticated by userID (session, auth_time, amr) in one conditional
	// UPDATE (done = false -> true). It fails for unknown, expired or
	// already completed requests.
	CompleteAuthRequest(ctx context.Context, id, userID, sessionID string, authTime time.Time, amr []string) error
	// HasConsent reports whether userID already allowed clientID every
	// scope in scopes.
	HasConsent(ctx context.Context, userID, clientID string, scopes []string) (bool, error)
	// SaveConsent remembers that userID allowed clientID the scopes (added
	// to any earlier grant).
	SaveConsent(ctx context.Context, userID, clientID string, scopes []string) error
	// Cleanup deletes expired auth requests, codes and tokens (one bounded,
	// idempotent pass).
	Cleanup(ctx context.Context) error
}

// AuthRequest is the stored auth request as the sign-in pages read it: the
// values returned by AuthRequestByID implement it.
type AuthRequest interface {
	op.AuthRequest
	// GetPrompt returns the prompt values (none, login, consent, ...).
	GetPrompt() []string
	// GetMaxAge returns max_age (prompt=login arrives as 0); nil when absent.
	GetMaxAge() *time.Duration
	// GetHintSubject is the subject of a valid id_token_hint, "" when none.
	GetHintSubject() string
	// GetLoginHint is the login_hint parameter.
	GetLoginHint() string
	// GetSessionID is the browser session that completed the request, ""
	// while pending.
	GetSessionID() string
	// GetACRValues is the acr_values parameter.
	GetACRValues() []string
}

// Client is a stored client as the pages read it: the values returned by
// GetClientByClientID implement it.
type Client interface {
	op.Client
	// Name is shown on the sign-in and consent pages.
	GetName() string
	// IsThirdParty clients need the user's consent before they get a code.
	IsThirdParty() bool
}
