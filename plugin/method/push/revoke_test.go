package push_test

import (
	"crypto/rand"
	"testing"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// RevokeUser ends the user's pending pushes: the phone no longer lists
// them, and an approval sent anyway proves nothing.
func TestRevokeUserEndsPendingPushes(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		v := newEnv(t, g)
		dev, e := v.enroll(t)
		ctx := t.Context()
		fid := rand.Text()
		c := v.challenge(t, fid, e)
		if err := v.m.RevokeUser(ctx, g, v.user.ID, v.clk.Now()); err != nil {
			t.Fatal(err)
		}
		if got := v.status(t, c); got != "expired" {
			t.Errorf("status after revocation = %q, want expired", got)
		}
		if reqs, err := v.cli.Pending(ctx, dev, 0); err != nil || len(reqs) != 0 {
			t.Errorf("still pending on the phone: %+v, %v", reqs, err)
		}
		signed, err := dev.SignDecision(c.ID, push.Approve, c.Prompt.Number, v.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = v.cli.Send(ctx, dev, signed)
		if res := v.verify(t, fid, e, c); res.OK {
			t.Fatalf("a revoked push proves: %+v", res)
		}
	})
}
