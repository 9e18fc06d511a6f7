package schema

import "github.com/latchkeyid/latchkey/provider/db"

// Set is the provider's migration history, recorded in latchkey_migrations.
func Set() db.Set {
	return db.Set{
		Table: "latchkey_migrations",
		Migrations: []*db.Migration{
			users0001(),
			audit0002(),
			oidc0003(),
			sessions0004(),
			bindingHold0005(),
			loginLockouts0006(),
			cacheVersions0007(),
			clientLogo0008(),
			userLocale0009(),
			clientAdmin0010(),
			adminUsers0011(),
			audit0012(),
			userProfile0013Migration(),
			tokenIndexes0015(),
			opaqueFormat0016(),
		},
	}
}
