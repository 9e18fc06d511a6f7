package session_test

import (
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/session"
)

// ListUser shows a user's live sessions, newest first: not revoked ones,
// not expired ones, not another user's.
func TestListUserShowsLiveSessions(t *testing.T) {
	each(t, func(t *testing.T, g *gorm.DB) {
		ck := newClock()
		s := session.NewStore(g, session.WithClock(ck.Now), session.WithTTL(time.Hour))
		ctx := t.Context()
		mk := func(user string) string {
			t.Helper()
			ses, _, err := s.Create(ctx, nil, user, []string{"pwd"}, ck.Now())
			if err != nil {
				t.Fatal(err)
			}
			ck.Advance(time.Minute)
			return ses.ID
		}
		expired := mk("user1")
		ck.Advance(time.Hour)
		revoked := mk("user1")
		older := mk("user1")
		newer := mk("user1")
		mk("user2")
		if err := s.Revoke(ctx, revoked); err != nil {
			t.Fatal(err)
		}
		got, err := s.ListUser(ctx, "user1")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != newer || got[1].ID != older {
			t.Fatalf("ListUser = %+v; want %s then %s (not %s or %s)", got, newer, older, expired, revoked)
		}
		if empty, err := s.ListUser(ctx, "nobody"); err != nil || len(empty) != 0 {
			t.Fatalf("ListUser(nobody) = %v, %v", empty, err)
		}
	})
}
