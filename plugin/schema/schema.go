package schema

import "github.com/latchkeyid/latchkey/provider/db"

// Table records which plugin migrations ran.
const Table = "latchkey_sspr_migrations"

// Set is the plugin's migration set. Append new migrations at the end;
// never reorder or edit one that has shipped.
func Set() db.Set {
	return db.Set{
		Table: Table,
		Migrations: []*db.Migration{
			flows0001(),
			methods0002(),           // methods, codes, outbox, captcha, rate limits
			push0004(),              // push authenticator devices, links, challenges
			pushWebPush0005(),       // Web Push subscriptions
			proofTries0006(),        // per-challenge tries of every method (plugin/proof)
			accounts0007(),          // accounts: had methods, first session, reported; report recipients
			adminIdempotency0008m(), // the admin API's Idempotency-Key records
			questionTexts0010(),     // custom questions' texts per language
		},
	}
}
