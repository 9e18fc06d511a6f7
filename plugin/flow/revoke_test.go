package flow_test

import (
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// RevokeUser ends every open flow of the user but the kept one, whatever
// the revoking clock says, and a step already under way loses its save.
func TestRevokeUser(t *testing.T) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		s := flow.NewStore(g, flow.WithClock(func() time.Time { return t0 }))
		bind := flow.NewBindToken()
		mk := func(uid string) *flow.Flow {
			f := &flow.Flow{Purpose: flow.Recover, UserID: uid, Subject: uid}
			if err := s.Create(ctx, f, bind); err != nil {
				t.Fatal(err)
			}
			return f
		}
		open, kept, other := mk("u1"), mk("u1"), mk("u2")
		inFlight, err := s.Get(ctx, open.ID, bind, flow.Recover)
		if err != nil {
			t.Fatal(err)
		}
		// A revoking instance whose clock runs an hour behind.
		behind := flow.NewStore(g, flow.WithClock(func() time.Time { return t0.Add(-time.Hour) }))
		if err := behind.RevokeUser(ctx, g, "u1", kept.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, open.ID, bind, flow.Recover); !errors.Is(err, flow.ErrExpired) {
			t.Errorf("revoked flow: %v, want ErrExpired", err)
		}
		for name, f := range map[string]*flow.Flow{"kept": kept, "other-user": other} {
			if _, err := s.Get(ctx, f.ID, bind, flow.Recover); err != nil {
				t.Errorf("%s flow: %v", name, err)
			}
		}
		if err := inFlight.ChooseIntent(flow.Reset, t0); err != nil {
			t.Fatal(err)
		}
		if err := s.Save(ctx, nil, inFlight); !errors.Is(err, flow.ErrConflict) {
			t.Errorf("save of a revoked flow: %v, want ErrConflict", err)
		}
	})
}
