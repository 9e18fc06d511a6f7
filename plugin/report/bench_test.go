package report_test

import (
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/report"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	dbseed "github.com/latchkeyid/latchkey/provider/seed"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// BenchmarkReports times each report on a large directory: 100,000 users
// (70 % with a method) and 1,000,000 audit events over 93 days, of which
// the month reported holds about 324,000 (10,800 a day). Seeding takes a
// minute or two per backend:
//
//	LATCHKEY_TEST_MYSQL=required go test -run '^$' -bench Reports -benchtime 5x ./plugin/report/
func BenchmarkReports(b *testing.B) {
	const users, events = 100_000, 1_000_000
	for _, be := range dbtest.Backends {
		b.Run(string(be), func(b *testing.B) {
			g := dbtest.Open(b, dbtest.URL(b, be), sets()...)
			ctx := b.Context()
			if err := dbseed.Users(ctx, g, "u", users, "$argon2id$v=19$m=7168,t=5,p=1$c2FsdA$aGFzaA"); err != nil {
				b.Fatal(err)
			}
			// Methods for 70 % of them, in one statement.
			if err := g.Exec(`INSERT INTO sspr_methods (id, user_id, method, label, destination_key, counter, created_at, usable_at, verified_at)
				SELECT id, id, CASE WHEN id < 'M' THEN 'email' WHEN id < 'T' THEN 'mobile' ELSE 'totp' END, '', id, 0, created_at, created_at, created_at
				FROM users WHERE id < 'W'`).Error; err != nil {
				b.Fatal(err)
			}
			types := []string{audit.RecoveryStart, audit.CodeSent, audit.MethodVerified, audit.PasswordReset,
				audit.SignIn, audit.SignIn, audit.SignIn, audit.SignInFailed, "phone.send", audit.CaptchaFailed}
			base := day(1, 0, 0).AddDate(0, -2, 0)
			err := g.Transaction(func(tx *gorm.DB) error {
				rows := make([]audit.Event, 0, 1000)
				for i := range events {
					rows = append(rows, audit.Event{Time: base.Add(time.Duration(i) * 8 * time.Second), Type: types[i%len(types)],
						UserID: "u", FlowID: fmt.Sprint("F", i/4), Outcome: audit.OK, Detail: `{"cc":"44"}`})
					if len(rows) == cap(rows) {
						if err := tx.Create(&rows).Error; err != nil {
							return err
						}
						rows = rows[:0]
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			r := report.New(g)
			month := report.Range{Since: day(1, 0, 0), Until: day(31, 0, 0)}
			for _, name := range report.Names {
				b.Run(name, func(b *testing.B) {
					for b.Loop() {
						if _, err := r.Run(ctx, i18n.English(), report.Request{Name: name, Range: month, After: "U", Limit: 100}); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
