package session_test

import (
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/clocktest"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/schema"
	"github.com/latchkeyid/latchkey/provider/session"
)

func newClock() *clocktest.Clock { return clocktest.At(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }
func each(t *testing.T, fn func(t *testing.T, g *gorm.DB)) {
	dbtest.EachDB(t, []db.Set{schema.Set()}, fn)
}

func TestCreateAlwaysMakesAFreshSession(t *testing.T) {
	each(t, func(t *testing.T, g *gorm.DB) {
		ck := newClock()
		s := session.NewStore(g, session.WithClock(ck.Now), session.WithTTL(time.Hour))
		ctx := t.Context()
		a, tokA, err := s.Create(ctx, nil, "user1", []string{"pwd"}, ck.Now())
		if err != nil {
			t.Fatal(err)
		}
		b, tokB, err := s.Create(ctx, nil, "user1", []string{"pwd"}, ck.Now())
		if err != nil {
			t.Fatal(err)
		}
		if a.ID == b.ID || tokA == tokB {
			t.Fatalf("two sign-ins share an id or token: %s %s", a.ID, b.ID)
		}
		if len(tokA) < 43 {
			t.Fatalf("token %q is shorter than 256 bits of base64url", tokA)
		}
		var stored session.Row
		if err := g.Where("id = ?", a.ID).Take(&stored).Error; err != nil {
			t.Fatal(err)
		}
		if stored.TokenHash == tokA || stored.TokenHash != session.HashToken(tokA) {
			t.Fatal("the raw cookie token is stored instead of its hash")
		}
		got, err := s.Lookup(ctx, tokA)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != a.ID || got.UserID != "user1" || len(got.AMR) != 1 || got.AMR[0] != "pwd" || !got.AuthTime.Equal(ck.Now()) {
			t.Fatalf("lookup returned %+v", got)
		}
	})
}

func TestLookupRefusesDeadSessions(t *testing.T) {
	each(t, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		tests := []struct {
			name string
			kill func(t *testing.T, s *session.Store, ck *clocktest.Clock, id string)
		}{
			{"expired", func(_ *testing.T, _ *session.Store, ck *clocktest.Clock, _ string) {
				ck.Advance(time.Hour + time.Second)
			}},
			{"revoked", func(t *testing.T, s *session.Store, _ *clocktest.Clock, id string) {
				if err := s.Revoke(ctx, id); err != nil {
					t.Fatal(err)
				}
			}},
			{"revoked-user", func(t *testing.T, s *session.Store, _ *clocktest.Clock, _ string) {
				if err := s.RevokeUser(ctx, g, "user-dead", time.Now(), account.Keep{}); err != nil {
					t.Fatal(err)
				}
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ck := newClock()
				s := session.NewStore(g, session.WithClock(ck.Now), session.WithTTL(time.Hour))
				sess, tok, err := s.Create(ctx, nil, "user-dead", nil, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				ck.Advance(59 * time.Minute)
				if _, err := s.Lookup(ctx, tok); err != nil {
					t.Fatalf("live session refused: %v", err)
				}
				tt.kill(t, s, ck, sess.ID)
				if _, err := s.Lookup(ctx, tok); !errors.Is(err, session.ErrNotFound) {
					t.Fatalf("dead session: got %v, want ErrNotFound", err)
				}
			})
		}
		s := session.NewStore(g)
		for _, bad := range []string{"", "nope", string(make([]byte, 500))} {
			if _, err := s.Lookup(ctx, bad); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("token %q: got %v", bad, err)
			}
		}
	})
}

// RevokeUser ends every session of the user and no one else's; the OP's
// tokens are its own to revoke (provider/opstore).
func TestRevokeUserEndsEveryUserSession(t *testing.T) {
	each(t, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		s := session.NewStore(g)
		_, aliceTok, _ := s.Create(ctx, nil, "alice", []string{"otp"}, time.Time{})
		_, otherTok, _ := s.Create(ctx, nil, "alice", []string{"pwd"}, time.Time{})
		_, bobTok, _ := s.Create(ctx, nil, "bob", []string{"pwd"}, time.Time{})
		err := g.Transaction(func(tx *gorm.DB) error {
			return s.RevokeUser(ctx, tx, "alice", time.Now(), account.Keep{Flow: "f", AuthRequest: "r"})
		})
		if err != nil {
			t.Fatal(err)
		}
		for name, tc := range map[string]struct {
			tok   string
			alive bool
		}{"alice": {aliceTok, false}, "alice-other": {otherTok, false}, "bob": {bobTok, true}} {
			_, err := s.Lookup(ctx, tc.tok)
			if (err == nil) != tc.alive {
				t.Errorf("%s: alive=%v, want %v (err %v)", name, err == nil, tc.alive, err)
			}
		}
	})
}

func TestRevokeUserRollsBackWithTheTransaction(t *testing.T) {
	each(t, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		s := session.NewStore(g)
		_, tok, _ := s.Create(ctx, nil, "carol", nil, time.Time{})
		boom := errors.New("later step failed")
		err := g.Transaction(func(tx *gorm.DB) error {
			if err := s.RevokeUser(ctx, tx, "carol", time.Now(), account.Keep{}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if _, err := s.Lookup(ctx, tok); err != nil {
			t.Fatalf("session revoked although the transaction rolled back: %v", err)
		}
	})
}

// TestBindingBelongsToTheCreatingBrowser: a request is bound once, when it
// is created; a second Bind cannot move it to another browser, and a
// request without a binding row is bound to no browser (fail closed).
func TestBindingBelongsToTheCreatingBrowser(t *testing.T) {
	each(t, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		ck := newClock()
		s := session.NewStore(g, session.WithClock(ck.Now))
		if err := s.Bind(ctx, "req1", "browser-a", time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := s.Bind(ctx, "req1", "browser-b", time.Hour); err == nil {
			t.Fatal("a second Bind of the same request succeeded")
		}
		tests := []struct {
			name, req, browser string
			want               bool
		}{
			{"creating-browser", "req1", "browser-a", true},
			{"second-browser", "req1", "browser-b", false},
			{"no-cookie", "req1", "", false},
			{"no-binding-row", "req2", "browser-a", false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.Bound(ctx, tt.req, tt.browser)
				if err != nil || got != tt.want {
					t.Fatalf("Bound = %v, %v; want %v", got, err, tt.want)
				}
			})
		}
		t.Run("hold-and-unbind", func(t *testing.T) {
			if err := s.Bind(ctx, "req3", "browser-a", time.Hour); err != nil {
				t.Fatal(err)
			}
			if err := s.Hold(ctx, "req3", "sess1"); err != nil {
				t.Fatal(err)
			}
			if b, err := s.Binding(ctx, "req3", "browser-a"); err != nil || b.HoldSession != "sess1" {
				t.Fatalf("Binding = %+v, %v; want held for sess1", b, err)
			}
			if held, err := s.SessionHeld(ctx, "sess1"); err != nil || !held {
				t.Fatalf("SessionHeld = %v, %v; want true", held, err)
			}
			if err := s.Release(ctx, "sess1"); err != nil {
				t.Fatal(err)
			}
			if held, err := s.SessionHeld(ctx, "sess1"); err != nil || held {
				t.Fatalf("SessionHeld after Release = %v, %v; want false", held, err)
			}
			if err := s.Unbind(ctx, "req3"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Binding(ctx, "req3", "browser-a"); !errors.Is(err, session.ErrNotBound) {
				t.Fatalf("after Unbind: %v, want ErrNotBound", err)
			}
		})
		ck.Advance(time.Hour + time.Second)
		if ok, _ := s.Bound(ctx, "req1", "browser-a"); ok {
			t.Fatal("expired binding still counts")
		}
		if n, err := s.CleanupBindings(ctx, 10); err != nil || n != 1 {
			t.Fatalf("CleanupBindings = %d, %v", n, err)
		}
	})
}

func TestCleanupDeletesOnlyLongDeadSessions(t *testing.T) {
	each(t, func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		ck := newClock()
		s := session.NewStore(g, session.WithClock(ck.Now), session.WithTTL(time.Hour))
		_, oldTok, _ := s.Create(ctx, nil, "dave", nil, time.Time{})
		ck.Advance(26 * time.Hour)
		_, newTok, _ := s.Create(ctx, nil, "dave", nil, time.Time{})
		n, err := s.Cleanup(ctx, 100)
		if err != nil || n != 1 {
			t.Fatalf("Cleanup = %d, %v; want 1", n, err)
		}
		var count int64
		g.Model(&session.Row{}).Where("token_hash = ?", session.HashToken(oldTok)).Count(&count)
		if count != 0 {
			t.Fatal("long-expired session kept")
		}
		if _, err := s.Lookup(ctx, newTok); err != nil {
			t.Fatalf("live session deleted: %v", err)
		}
	})
}
