package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/console"
	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/ui"
)

// consoleClient is the admin console's OIDC client as every start
// registers it: confidential, its secret derived from LATCHKEY_SECRET (so
// every instance agrees and none stores it), code flow only.
func (a *app) consoleClient(k *secret.Keyring) opstore.NewClient {
	nc := opstore.NewClient{ID: console.ClientID, Name: "Latchkey admin console", Secret: console.ClientSecret(k),
		RedirectURIs: []string{console.RedirectURI(a.cfg.Issuer)}, GrantTypes: []string{opstore.GrantAuthorizationCode}}
	a.clientTTLs(&nc)
	return nc
}

// ensureConsoleClient registers (or repairs) the console's client. Two
// instances starting at once may both try to create it: the loser finds
// it the second time.
func ensureConsoleClient(ctx context.Context, st *opstore.Storage, nc opstore.NewClient) error {
	_, err := st.EnsureClient(ctx, nc)
	if err != nil {
		_, err = st.EnsureClient(ctx, nc)
	}
	if err != nil {
		return fmt.Errorf("admin console: register its client: %w", err)
	}
	return nil
}

// mountConsole registers the console's client and mounts /admin. Its
// back-channel calls are served in-process by h (the issuer's Echo).
func mountConsole(ctx context.Context, e *echo.Echo, h http.Handler, st *opstore.Storage, nc opstore.NewClient,
	issuer string, render *ui.Renderer, k *secret.Keyring, users *user.Store) (*console.Console, error) {
	if st == nil {
		return nil, errors.New("admin console: the OP storage is not opstore")
	}
	if err := ensureConsoleClient(ctx, st, nc); err != nil {
		return nil, err
	}
	c, err := console.New(console.Config{Issuer: issuer, Secret: nc.Secret, Handler: h, Renderer: render, Keys: k, Users: users})
	if err != nil {
		return nil, err
	}
	c.Mount(e)
	return c, nil
}
