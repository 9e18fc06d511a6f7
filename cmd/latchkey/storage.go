package main

import (
	"errors"
	"fmt"
	"slices"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/cmd/latchkey/internal/demo"
	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/keys"
	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/session"
)

// clientStore opens the OP storage for the client commands. Client secrets
// are stored as a hash keyed with LATCHKEY_SECRET, so the secret is needed.
func (a *app) clientStore() (*opstore.Storage, error) {
	k, err := a.keyring()
	if err != nil {
		return nil, err
	}
	g, err := a.database()
	if err != nil {
		return nil, err
	}
	// Client administration signs nothing: the key manager is not loaded.
	return a.newOpStore(g, k, keys.New(g, k, a.keyOptions()...))
}

func (a *app) newOpStore(g *gorm.DB, k *secret.Keyring, m *keys.Manager) (*opstore.Storage, error) {
	users, err := a.users()
	if err != nil {
		return nil, err
	}
	return opstore.New(g, k, m, users, opstore.WithSessions(session.NewStore(g))), nil
}

// opStorage builds the OP storage for serve, with signing keys created if
// this is the first start and loaded once.
func (a *app) opStorage(g *gorm.DB, k *secret.Keyring) (provider.Storage, func(), error) {
	m, err := a.keyManager()
	if err != nil {
		return nil, nil, err
	}
	st, err := a.newOpStore(g, k, m)
	if err != nil {
		return nil, nil, err
	}
	return st, func() {}, nil
}

// ensureDemoClient registers dev mode's demo app (a public client with
// PKCE). A client left by an earlier start with another issuer (another
// port) is replaced, since its redirect URI would no longer match.
func (a *app) ensureDemoClient() error {
	st, err := a.clientStore()
	if err != nil {
		return err
	}
	want := demo.RedirectURI(a.cfg.Issuer)
	switch cl, err := st.ClientByID(a.ctx, demo.ClientID); {
	case err == nil && slices.Equal(cl.RedirectURIs(), []string{want}):
		return nil
	case err == nil:
		if err := st.DeleteClient(a.ctx, demo.ClientID); err != nil {
			return err
		}
	case !errors.Is(err, opstore.ErrNotFound):
		return err
	}
	nc := opstore.NewClient{
		ID: demo.ClientID, Name: "Latchkey demo app", Public: true,
		RedirectURIs:           []string{want},
		PostLogoutRedirectURIs: []string{demo.PostLogoutURI(a.cfg.Issuer)},
	}
	a.clientTTLs(&nc)
	if _, _, err := st.CreateClient(a.ctx, nc); err != nil && !errors.Is(err, opstore.ErrExists) {
		return err
	}
	return nil
}

// createBenchClient registers a bench client with every grant, its ID
// tokens signed with alg and access tokens of type att (opaque or jwt).
func (a *app) createBenchClient(id, secretValue, redirect, alg, att string) error {
	st, err := a.clientStore()
	if err != nil {
		return err
	}
	nc := opstore.NewClient{
		ID: id, Name: "Latchkey bench", Secret: secretValue, RedirectURIs: []string{redirect},
		GrantTypes: []string{opstore.GrantAuthorizationCode, opstore.GrantRefreshToken, opstore.GrantClientCredentials},
		IDTokenAlg: alg, AccessTokenType: att,
	}
	a.clientTTLs(&nc)
	if _, _, err := st.CreateClient(a.ctx, nc); err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	return nil
}

func (a *app) deleteClient(id string) error {
	st, err := a.clientStore()
	if err != nil {
		return err
	}
	return st.DeleteClient(a.ctx, id)
}
