package opstore_test

import (
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/clocktest"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/keys"
	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/schema"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/user/usertest"
)

// env is one storage on a fresh database with a user and two clients.
type env struct {
	g      *gorm.DB
	s      *opstore.Storage
	users  *user.Store
	keys   *keys.Manager
	kr     *secret.Keyring
	clk    *clocktest.Clock
	alice  *user.User
	web    *opstore.Client // confidential, code + refresh
	secret string          // web's secret
	spa    *opstore.Client // public, code + refresh
	svc    *opstore.Client // confidential, client_credentials
	svcSec string
}

const redirect = "https://app.example.com/callback"

// verifier and challenge are a valid PKCE S256 pair.
var (
	verifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	challenge = func() string {
		h := sha256.Sum256([]byte(verifier))
		return base64.RawURLEncoding.EncodeToString(h[:])
	}()
)

func sets() []db.Set { return []db.Set{schema.Set()} }

func newEnv(t testing.TB, g *gorm.DB, opts ...opstore.Option) *env {
	t.Helper()
	kr, err := secret.Parse(secret.Generate())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{g: g, kr: kr, clk: clocktest.At(time.Now().UTC().Truncate(time.Second))}
	e.keys = keys.New(g, kr, keys.WithClock(e.clk.Now))
	if err := e.keys.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.users = usertest.Store(g)
	e.alice = usertest.Create(t, e.users, "alice", "correct horse battery staple", "staff")
	// alice's password was set before the test clock's sign-ins (the store
	// stamps it with the real clock, which runs ahead of e.clk): a grant
	// from a sign-in older than the password is refused.
	e.alice.PasswordChangedAt = e.clk.Now().Add(-time.Hour)
	e.alice.SignedOutAt = &e.alice.PasswordChangedAt
	if err := g.Model(e.alice).Updates(map[string]any{"password_changed_at": e.alice.PasswordChangedAt,
		"signed_out_at": e.alice.PasswordChangedAt}).Error; err != nil {
		t.Fatal(err)
	}
	e.s = opstore.New(g, kr, e.keys, e.users, append([]opstore.Option{opstore.WithClock(e.clk.Now)}, opts...)...)
	ctx := t.Context()
	e.web, e.secret, err = e.s.CreateClient(ctx, opstore.NewClient{ID: "web", Name: "Web App",
		RedirectURIs: []string{redirect}, PostLogoutRedirectURIs: []string{"https://app.example.com/"}})
	if err != nil {
		t.Fatal(err)
	}
	e.spa, _, err = e.s.CreateClient(ctx, opstore.NewClient{ID: "spa", Name: "SPA", Public: true,
		RedirectURIs: []string{"https://spa.example.com/cb"}, IDTokenAlg: "ES256"})
	if err != nil {
		t.Fatal(err)
	}
	e.svc, e.svcSec, err = e.s.CreateClient(ctx, opstore.NewClient{ID: "svc", Name: "Service"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// eachEnv runs fn on SQLite and MySQL, each on a fresh database.
func eachEnv(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) { fn(t, newEnv(t, g)) })
}

// authorize creates an auth request for client with scopes, as the OP
// does after validating /authorize.
func (e *env) authorize(t testing.TB, client string, scopes ...string) *opstore.AuthRequest {
	t.Helper()
	redir := redirect
	if client == "spa" {
		redir = "https://spa.example.com/cb"
	}
	ar, err := e.s.CreateAuthRequest(t.Context(), &oidc.AuthRequest{
		ClientID: client, RedirectURI: redir, Scopes: scopes, ResponseType: oidc.ResponseTypeCode,
		State: "st", Nonce: "n-0S6_WzA2Mj", CodeChallenge: challenge, CodeChallengeMethod: oidc.CodeChallengeMethodS256,
	}, "")
	if err != nil {
		t.Fatalf("CreateAuthRequest: %v", err)
	}
	return ar.(*opstore.AuthRequest)
}

// signIn completes the request as alice and saves a code for it.
func (e *env) signIn(t testing.TB, ar *opstore.AuthRequest, code string) {
	t.Helper()
	ctx := t.Context()
	if err := e.s.CompleteAuthRequest(ctx, ar.GetID(), e.alice.ID, "sess-1", e.clk.Now().Add(-time.Minute), []string{"pwd"}); err != nil {
		t.Fatalf("CompleteAuthRequest: %v", err)
	}
	if err := e.s.SaveAuthCode(ctx, ar.GetID(), code); err != nil {
		t.Fatalf("SaveAuthCode: %v", err)
	}
}

// codeTokens runs the code flow up to the token response, with
// offline_access when refresh is true. It returns the access-token ID and
// the refresh token.
func (e *env) codeTokens(t testing.TB, client string, refresh bool) (string, string) {
	t.Helper()
	scopes := []string{"openid", "profile", "email"}
	if refresh {
		scopes = append(scopes, "offline_access")
	}
	ar := e.authorize(t, client, scopes...)
	code := "code-" + ar.GetID()
	e.signIn(t, ar, code)
	got, err := e.s.AuthRequestByCode(t.Context(), code)
	if err != nil {
		t.Fatalf("AuthRequestByCode: %v", err)
	}
	if !refresh {
		id, _, err := e.s.CreateAccessToken(t.Context(), got)
		if err != nil {
			t.Fatalf("CreateAccessToken: %v", err)
		}
		return id, ""
	}
	id, rt, _, err := e.s.CreateAccessAndRefreshTokens(t.Context(), got, "")
	if err != nil {
		t.Fatalf("CreateAccessAndRefreshTokens: %v", err)
	}
	return id, rt
}

// refresh runs the refresh grant's storage calls.
func (e *env) refresh(t testing.TB, rt string, narrow ...string) (string, string, error) {
	t.Helper()
	req, err := e.s.TokenRequestByRefreshToken(t.Context(), rt)
	if err != nil {
		return "", "", err
	}
	if narrow != nil {
		req.SetCurrentScopes(narrow)
	}
	at, next, _, err := e.s.CreateAccessAndRefreshTokens(t.Context(), req, rt)
	return at, next, err
}

// active reports whether the access token passes introspection by its
// client.
func (e *env) active(t testing.TB, atID, subject, client string) bool {
	t.Helper()
	return e.s.SetIntrospectionFromToken(t.Context(), new(oidc.IntrospectionResponse), atID, subject, client) == nil
}

var _ op.Storage = (*opstore.Storage)(nil)
