package push_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// "Deny, and report it" blocks pushes for the account for the policy's
// push_report_block_minutes, read from the stored policy as cmd wires it;
// 0 does not block. The policy is changed between reports, as an admin
// would with `latchkey policy set`.
func TestReportBlockFromStoredPolicy(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		pols := policy.NewStore(g, policy.Default([]string{"totp"}))
		v := newEnv(t, g, func(c *push.Config) {
			c.ReportBlockFunc = func(ctx context.Context) (time.Duration, error) {
				p, err := pols.Get(ctx)
				return p.PushReportBlock(), err
			}
		})
		dev, e := v.enroll(t)
		// The first case is the default policy, never stored.
		for i, minutes := range []int{policy.DefaultPushReportBlockMinutes, 45, 0, 1} {
			t.Run(fmt.Sprintf("%d-minutes", minutes), func(t *testing.T) {
				cur, err := pols.Get(ctx)
				if err != nil {
					t.Fatal(err)
				}
				next, err := policy.Apply(cur, []string{fmt.Sprintf("push_report_block_minutes=%d", minutes)})
				if err != nil {
					t.Fatal(err)
				}
				if i > 0 {
					if err := pols.Set(ctx, next); err != nil {
						t.Fatal(err)
					}
				}
				c := v.challenge(t, rand.Text(), e)
				if got, err := v.cli.Decide(ctx, dev, c.ID, push.Report, ""); err != nil || got != "reported" {
					t.Fatalf("report = %q, %v", got, err)
				}
				block := time.Duration(minutes) * time.Minute
				if minutes > 0 {
					v.clk.Advance(block - time.Second)
					if _, err := v.m.Challenge(ctx, rand.Text(), v.user, e); !errors.Is(err, push.ErrBlocked) {
						t.Fatalf("push %s after the report: %v, want ErrBlocked", block-time.Second, err)
					}
					v.clk.Advance(time.Second)
				}
				v.challenge(t, rand.Text(), e) // no longer (or never) blocked
				v.clk.Advance(push.Window)     // a fresh window for the next case
			})
		}
	})
}
