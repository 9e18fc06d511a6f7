package user_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/user/usertest"
)

func TestSetAdminGuarded(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		bob := usertest.Create(t, f.s, "bob", alicePW)
		carol := usertest.Create(t, f.s, "carol", alicePW)
		set := func(t *testing.T, id string, admin bool) {
			t.Helper()
			if err := f.s.SetAdmin(ctx, id, admin); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			name          string
			admins        []string // before
			disabled      string   // an admin who is disabled
			actor, target string
			admin         bool
			want          error
		}{
			{"last-admin-by-cli", []string{f.alice.ID}, "", "", f.alice.ID, false, user.ErrLastAdmin},
			{"own-flag-with-others-left", []string{f.alice.ID, bob.ID}, "", f.alice.ID, f.alice.ID, false, user.ErrOwnAdmin},
			{"other-admin", []string{f.alice.ID, bob.ID}, "", f.alice.ID, bob.ID, false, nil},
			{"disabled-admin-does-not-count", []string{f.alice.ID, bob.ID}, bob.ID, carol.ID, f.alice.ID, false, user.ErrLastAdmin},
			{"grant", []string{f.alice.ID}, "", f.alice.ID, bob.ID, true, nil},
			{"grant-own-is-fine", []string{f.alice.ID}, "", f.alice.ID, f.alice.ID, true, nil},
			{"not-an-admin", []string{f.alice.ID}, "", "", carol.ID, false, nil},
			{"unknown-user", []string{f.alice.ID}, "", "", "NOPE", false, user.ErrNotFound},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for _, u := range []*user.User{f.alice, bob, carol} {
					set(t, u.ID, false)
					if err := f.s.SetDisabled(ctx, u.ID, u.ID == tt.disabled); err != nil {
						t.Fatal(err)
					}
				}
				for _, id := range tt.admins {
					set(t, id, true)
				}
				err := f.s.SetAdminGuarded(ctx, tt.actor, tt.target, tt.admin)
				if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
					t.Fatalf("SetAdminGuarded = %v, want %v", err, tt.want)
				}
				if tt.want != nil || tt.target == "NOPE" {
					return
				}
				u, err := f.s.ByID(ctx, tt.target)
				if err != nil || u.Admin != tt.admin {
					t.Fatalf("admin flag = %v (%v), want %v", u.Admin, err, tt.admin)
				}
			})
		}
	})
}

// Two administrators demoting each other at the same moment: one wins,
// the other is refused, and an administrator is always left. Repeated, so
// the two transactions overlap in different ways.
func TestParallelDemotionsKeepOneAdmin(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		bob := usertest.Create(t, f.s, "bob", alicePW)
		for round := range 10 {
			for _, id := range []string{f.alice.ID, bob.ID} {
				if err := f.s.SetAdmin(ctx, id, true); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			start := make(chan struct{})
			for i, p := range [][2]string{{f.alice.ID, bob.ID}, {bob.ID, f.alice.ID}} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					errs[i] = f.s.SetAdminGuarded(ctx, p[0], p[1], false)
				}()
			}
			close(start)
			wg.Wait()
			failed := 0
			for _, err := range errs {
				switch {
				case errors.Is(err, user.ErrLastAdmin):
					failed++
				case err != nil:
					t.Fatalf("round %d: %v", round, err)
				}
			}
			admins, err := f.s.Admins(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if failed != 1 || len(admins) != 1 {
				t.Fatalf("round %d: %d refused (%v), %d admins left; want 1 and 1", round, failed, errs, len(admins))
			}
		}
	})
}

func TestGuardLastAdminNeedsTransaction(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		if err := f.s.GuardLastAdmin(ctx, f.alice.ID); err == nil {
			t.Fatal("GuardLastAdmin outside a transaction succeeded")
		}
		if err := f.s.SetAdmin(ctx, f.alice.ID, true); err != nil {
			t.Fatal(err)
		}
		err := db.Transact(ctx, g, "test", func(tx *gorm.DB) error { return f.s.WithTx(tx).GuardLastAdmin(ctx, f.alice.ID) })
		if !errors.Is(err, user.ErrLastAdmin) {
			t.Fatalf("guard in a transaction = %v, want ErrLastAdmin", err)
		}
	})
}

func TestUpdateProfile(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		usertest.Create(t, f.s, "bob", alicePW)
		str := func(s string) *string { return &s }
		tests := []struct {
			name  string
			p     user.Profile
			want  error
			check func(*user.User) bool
		}{
			{"name", user.Profile{DisplayName: str(" Alice Liddell ")}, nil,
				func(u *user.User) bool { return u.DisplayName == "Alice Liddell" && u.NameKey == "alice liddell" }},
			{"email", user.Profile{Email: str("Alice.L@Example.org")}, nil,
				func(u *user.User) bool {
					return u.Email == "Alice.L@Example.org" && u.EmailKey == "alice.l@example.org"
				}},
			{"phone", user.Profile{Phone: str("+14155550100")}, nil, func(u *user.User) bool { return u.Phone == "+14155550100" }},
			{"phone-removed", user.Profile{Phone: str("")}, nil, func(u *user.User) bool { return u.Phone == "" }},
			{"email-of-other", user.Profile{Email: str("BOB@example.com")}, user.ErrExists, nil},
			{"email-is-other-username", user.Profile{Email: str("bob")}, user.ErrInvalid, nil},
			{"bad-email", user.Profile{Email: str("Alice <a@example.org>")}, user.ErrInvalid, nil},
			{"empty-name", user.Profile{DisplayName: str("  ")}, user.ErrInvalid, nil},
			{"control-in-name", user.Profile{DisplayName: str("a\nb")}, user.ErrInvalid, nil},
			{"bad-phone", user.Profile{Phone: str("0155")}, user.ErrInvalid, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := f.s.UpdateProfile(ctx, f.alice.ID, tt.p)
				if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
					t.Fatalf("UpdateProfile = %v, want %v", err, tt.want)
				}
				if tt.check != nil {
					u, err := f.s.ByID(ctx, f.alice.ID)
					if err != nil || !tt.check(u) {
						t.Fatalf("after update: %+v, %v", u, err)
					}
				}
			})
		}
		t.Run("search-finds-new-name", func(t *testing.T) {
			if got := walk(t, f.s, "alice lid", 10); len(got) != 1 {
				t.Fatalf("search = %q", got)
			}
		})
		t.Run("unknown-user", func(t *testing.T) {
			if err := f.s.UpdateProfile(ctx, "NOPE", user.Profile{Phone: str("")}); !errors.Is(err, user.ErrNotFound) {
				t.Fatalf("UpdateProfile(unknown) = %v", err)
			}
		})
	})
}

func TestTemporaryPassword(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		must := func(t *testing.T, want bool) {
			t.Helper()
			u, err := f.s.ByID(ctx, f.alice.ID)
			if err != nil || u.MustChangePassword != want {
				t.Fatalf("MustChangePassword = %v (%v), want %v", u.MustChangePassword, err, want)
			}
		}
		must(t, false)
		h, err := f.s.Hasher().Hash(ctx, "temporary words here")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.s.SetTemporaryPasswordHash(ctx, f.alice.ID, h); err != nil {
			t.Fatal(err)
		}
		must(t, true)
		if u, err := f.s.Authenticate(ctx, "alice", "temporary words here"); err != nil || !u.MustChangePassword {
			t.Fatalf("sign-in with the temporary password = %+v, %v; want the flag", u, err)
		}
		must(t, true) // signing in does not clear it
		if err := f.s.SetPassword(ctx, f.alice.ID, "the user's own choice"); err != nil {
			t.Fatal(err)
		}
		must(t, false)
	})
}

func TestSetupLinks(t *testing.T) {
	eachDB(t, func(t *testing.T, g *gorm.DB) {
		f := newFixture(t, g)
		ctx := t.Context()
		issue := func(t *testing.T, ttl time.Duration) string {
			t.Helper()
			tok, exp, err := f.s.IssueSetupLink(ctx, f.alice.ID, ttl)
			if err != nil || len(tok) < 40 || !exp.After(f.clock.Now()) {
				t.Fatalf("IssueSetupLink = %q, %v, %v", tok, exp, err)
			}
			return tok
		}
		redeem := func(t *testing.T, tok string, want error) {
			t.Helper()
			id, err := f.s.RedeemSetupLink(ctx, tok)
			if !errors.Is(err, want) || (want == nil) != (err == nil) {
				t.Fatalf("RedeemSetupLink = %q, %v; want %v", id, err, want)
			}
			if want == nil && id != f.alice.ID {
				t.Fatalf("redeemed for %q, want alice", id)
			}
		}
		t.Run("single-use", func(t *testing.T) {
			tok := issue(t, time.Hour)
			for range 2 { // looking does not use it up
				if id, err := f.s.SetupLinkUser(ctx, tok); err != nil || id != f.alice.ID {
					t.Fatalf("SetupLinkUser = %q, %v", id, err)
				}
			}
			redeem(t, tok, nil)
			if _, err := f.s.SetupLinkUser(ctx, tok); !errors.Is(err, user.ErrSetupLink) {
				t.Fatalf("SetupLinkUser after use = %v", err)
			}
			redeem(t, tok, user.ErrSetupLink)
		})
		t.Run("expires", func(t *testing.T) {
			tok := issue(t, time.Hour)
			f.clock.Advance(time.Hour)
			redeem(t, tok, user.ErrSetupLink)
		})
		t.Run("newer-link-revokes-older", func(t *testing.T) {
			old := issue(t, time.Hour)
			tok := issue(t, time.Hour)
			redeem(t, old, user.ErrSetupLink)
			redeem(t, tok, nil)
		})
		t.Run("password-set-revokes", func(t *testing.T) {
			tok := issue(t, time.Hour)
			if err := f.s.SetPassword(ctx, f.alice.ID, "a brand new password"); err != nil {
				t.Fatal(err)
			}
			redeem(t, tok, user.ErrSetupLink)
		})
		t.Run("unknown-and-garbage", func(t *testing.T) {
			issue(t, time.Hour)
			for _, tok := range []string{"", "NOTATOKEN", string(make([]byte, 4096))} {
				redeem(t, tok, user.ErrSetupLink)
			}
		})
		t.Run("parallel-redeems-one-wins", func(t *testing.T) {
			tok := issue(t, time.Hour)
			var wg sync.WaitGroup
			var mu sync.Mutex
			won := 0
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id, err := f.s.RedeemSetupLink(ctx, tok)
					switch {
					case err == nil && id == f.alice.ID:
						mu.Lock()
						won++
						mu.Unlock()
					case !errors.Is(err, user.ErrSetupLink):
						t.Errorf("redeem: %v", err)
					}
				}()
			}
			wg.Wait()
			if won != 1 {
				t.Fatalf("%d redeems won, want 1", won)
			}
		})
		t.Run("stored-hashed", func(t *testing.T) {
			tok := issue(t, time.Hour)
			var n int64
			if err := g.Table("user_setup_tokens").Where("token_hash = ?", tok).Count(&n).Error; err != nil || n != 0 {
				t.Fatalf("raw token stored: %d, %v", n, err)
			}
		})
		t.Run("deleted-user", func(t *testing.T) {
			bob := usertest.Create(t, f.s, "bob", alicePW)
			tok, _, err := f.s.IssueSetupLink(ctx, bob.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.s.Delete(ctx, bob.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := f.s.RedeemSetupLink(ctx, tok); !errors.Is(err, user.ErrSetupLink) {
				t.Fatalf("redeem for a deleted user = %v", err)
			}
		})
		t.Run("cleanup", func(t *testing.T) {
			issue(t, time.Hour)
			f.clock.Advance(user.DefaultSetupTTL + time.Hour) // also bob's, issued with the default
			n, err := f.s.CleanupSetupLinks(ctx, f.clock.Now(), 500)
			if err != nil || n == 0 {
				t.Fatalf("cleanup = %d, %v", n, err)
			}
			var left int64
			if err := g.Table("user_setup_tokens").Count(&left).Error; err != nil || left != 0 {
				t.Fatalf("%d links left, %v", left, err)
			}
		})
		t.Run("no-keyring", func(t *testing.T) {
			if _, _, err := usertest.Store(g).IssueSetupLink(ctx, f.alice.ID, 0); !errors.Is(err, user.ErrNoKeyring) {
				t.Fatalf("without keyring = %v", err)
			}
		})
	})
}
