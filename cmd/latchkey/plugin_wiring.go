package main

import (
	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// mountPlugin mounts the SSPR plugin (/recover, /security-info) on e. The
// plugin package is still being built; until it lands, serve runs the
// provider alone.
func (a *app) mountPlugin(e *echo.Echo, p *provider.Provider, g *gorm.DB, k *secret.Keyring) error {
	_, _, _, _ = e, p, g, k
	return nil
}
