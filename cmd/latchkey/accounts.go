package main

import (
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/session"
	"github.com/latchkeyid/latchkey/provider/user"
)

// providerAccounts is the account service with the provider's revokers:
// browser sessions and the OP's requests, codes and tokens. The plugin's
// revoker is registered by whoever builds the plugin's stores.
func providerAccounts(g *gorm.DB, users *user.Store, op account.Revoker) *account.Service {
	return account.New(g, users, nil, session.NewStore(g), op)
}

// accounts is the account service of the admin commands: the same parts
// as the server's (sessions, the OP's grants, the plugin's flows and
// challenges), so `user reset-password`, disable, delete and sign-out
// revoke exactly what a reset on the page does, in one transaction. The
// commands sign nothing and may run without LATCHKEY_SECRET, so the OP's
// part needs no keys, and pending pushes (whose store needs the secret)
// are ended only when it is set; their flows end in any case.
func (a *app) accounts() (*account.Service, *user.Store, error) {
	g, err := a.database()
	if err != nil {
		return nil, nil, err
	}
	users, err := a.users()
	if err != nil {
		return nil, nil, err
	}
	var methods *method.Registry
	if a.cfg.Secret != "" || a.cfg.Dev {
		k, err := a.keyring()
		if err != nil {
			return nil, nil, err
		}
		pm, err := push.New(g, method.NewStore(g), k, push.Config{Issuer: a.cfg.Issuer})
		if err != nil {
			return nil, nil, err
		}
		if methods, err = method.NewRegistry(pm); err != nil {
			return nil, nil, err
		}
	}
	pr, err := plugin.NewRevoker(g, method.NewCodes(g, nil), methods, nil)
	if err != nil {
		return nil, nil, err
	}
	svc := providerAccounts(g, users, opstore.NewRevoker(nil))
	svc.Register(pr)
	return svc, users, nil
}
