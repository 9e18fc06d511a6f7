package opstore_test

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/opstore"
)

func TestRefreshRotation(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		at1, rt1 := e.codeTokens(t, "web", true)
		if rt1 == "" || len(rt1) < 43 {
			t.Fatalf("refresh token %q", rt1)
		}
		req, err := e.s.TokenRequestByRefreshToken(ctx, rt1)
		if err != nil {
			t.Fatal(err)
		}
		if req.GetSubject() != e.alice.ID || req.GetClientID() != "web" || !slices.Equal(req.GetAMR(), []string{"pwd"}) ||
			req.GetAuthTime().IsZero() {
			t.Fatalf("refresh request lost the grant's facts: %+v", req)
		}
		// Narrowed refresh: only the access token issued now is narrowed.
		at2, rt2, err := e.refresh(t, rt1, "openid")
		if err != nil {
			t.Fatal(err)
		}
		if rt2 == rt1 || at2 == at1 {
			t.Fatal("refresh did not rotate")
		}
		var resp oidc.IntrospectionResponse
		if err := e.s.SetIntrospectionFromToken(ctx, &resp, at2, e.alice.ID, "web"); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal([]string(resp.Scope), []string{"openid"}) {
			t.Fatalf("narrowed access token has scopes %v", resp.Scope)
		}
		req3, err := e.s.TokenRequestByRefreshToken(ctx, rt2)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(req3.GetScopes(), "email") || !slices.Contains(req3.GetScopes(), "offline_access") {
			t.Fatalf("rotated refresh token lost the original scopes: %v", req3.GetScopes())
		}
		// The rotated refresh token's access token ends with it.
		if e.active(t, at1, e.alice.ID, "web") {
			t.Error("access token of the rotated refresh token still active")
		}
		if !e.active(t, at2, e.alice.ID, "web") {
			t.Error("new access token inactive")
		}
	})
}

func TestRefreshReuseRevokesFamily(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, rt1 := e.codeTokens(t, "web", true)
		at2, rt2, err := e.refresh(t, rt1)
		if err != nil {
			t.Fatal(err)
		}
		// An attacker replays the stolen, already rotated token.
		_, _, err = e.refresh(t, rt1)
		var oe *oidc.Error
		if !errors.As(err, &oe) || oe.ErrorType != oidc.InvalidGrant {
			t.Fatalf("reuse: %v, want invalid_grant", err)
		}
		if _, _, err := e.refresh(t, rt2); err == nil {
			t.Fatal("the legitimate successor survived the reuse")
		}
		if e.active(t, at2, e.alice.ID, "web") {
			t.Fatal("access token of the family survived the reuse")
		}
	})
}

func TestConcurrentRefresh(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, rt := e.codeTokens(t, "web", true)
		const n = 10
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		issued := make(chan string, n)
		for range n {
			wg.Go(func() {
				<-start
				if at, next, err := e.refresh(t, rt); err == nil {
					wins.Add(1)
					issued <- at + " " + next
				}
			})
		}
		close(start)
		wg.Wait()
		close(issued)
		if got := wins.Load(); got != 1 {
			t.Fatalf("%d concurrent uses of one refresh token succeeded, want exactly 1", got)
		}
		// Every use after the first is reuse: the family is revoked, so
		// nothing issued in the race is still usable.
		var live int64
		e.g.Table("oidc_refresh_tokens").Where("revoked_at IS NULL").Count(&live)
		if live != 0 {
			t.Fatalf("%d refresh tokens still live after concurrent reuse", live)
		}
	})
}

func TestRefreshRefused(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		t.Run("unknown", func(t *testing.T) {
			if _, err := e.s.TokenRequestByRefreshToken(ctx, "not-a-token"); err == nil {
				t.Fatal("unknown token accepted")
			}
		})
		t.Run("revoked", func(t *testing.T) {
			_, rt := e.codeTokens(t, "web", true)
			id, tid, err := e.s.GetRefreshTokenInfo(ctx, "web", rt)
			if err != nil || id != e.alice.ID {
				t.Fatal(err)
			}
			if oe := e.s.RevokeToken(ctx, tid, id, "web"); oe != nil {
				t.Fatal(oe)
			}
			if _, err := e.s.TokenRequestByRefreshToken(ctx, rt); err == nil {
				t.Fatal("revoked token accepted")
			}
		})
		t.Run("disabled-user", func(t *testing.T) {
			_, rt := e.codeTokens(t, "web", true)
			if err := e.users.SetDisabled(ctx, e.alice.ID, true); err != nil {
				t.Fatal(err)
			}
			defer e.users.SetDisabled(ctx, e.alice.ID, false)
			if _, err := e.s.TokenRequestByRefreshToken(ctx, rt); err == nil {
				t.Fatal("disabled user refreshed")
			}
		})
		t.Run("revoked-by-password-reset", func(t *testing.T) {
			_, rt := e.codeTokens(t, "web", true)
			// What a password reset runs (account.Service calls it).
			if err := e.s.RevokeUser(ctx, e.g, e.alice.ID, e.clk.Now(), account.Keep{}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.s.TokenRequestByRefreshToken(ctx, rt); err == nil {
				t.Fatal("token revoked by user id accepted")
			}
		})
		t.Run("idle-expired", func(t *testing.T) {
			_, rt := e.codeTokens(t, "web", true)
			e.clk.Advance(opstore.DefaultRefreshIdle)
			if _, err := e.s.TokenRequestByRefreshToken(ctx, rt); err == nil {
				t.Fatal("idle-expired token accepted")
			}
		})
		t.Run("absolute-cap", func(t *testing.T) {
			_, rt := e.codeTokens(t, "web", true)
			// Refresh every 10 days: each refresh extends the idle window,
			// never past the family's absolute expiry.
			for range 2 {
				e.clk.Advance(10 * 24 * time.Hour)
				var err error
				if _, rt, err = e.refresh(t, rt); err != nil {
					t.Fatal(err)
				}
			}
			e.clk.Advance(10*24*time.Hour + time.Second)
			if _, err := e.s.TokenRequestByRefreshToken(ctx, rt); err == nil {
				t.Fatal("token accepted past the family's absolute lifetime")
			}
		})
	})
}

func TestGetRefreshTokenInfoUnknown(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		for _, tok := range []string{"", "garbage", string(make([]byte, 5000))} {
			if _, _, err := e.s.GetRefreshTokenInfo(t.Context(), "web", tok); err != op.ErrInvalidRefreshToken {
				t.Errorf("GetRefreshTokenInfo(%.10q) = %v, want exactly op.ErrInvalidRefreshToken", tok, err)
			}
		}
	})
}

// A token request reads its user once: the grant check and the ID token's
// claims share the read. Another request reads again, so a user disabled
// in between is refused at once.
func TestTokenRequestReadsItsUserOnce(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, rt := e.codeTokens(t, "web", true)
		var reads atomic.Int64
		if err := e.g.Callback().Query().After("gorm:query").Register("test:count_users", func(tx *gorm.DB) {
			if tx.Statement.Table == "users" {
				reads.Add(1)
			}
		}); err != nil {
			t.Fatal(err)
		}
		ctx := opstore.WithClientID(t.Context(), "web") // one request's scope
		req, err := e.s.TokenRequestByRefreshToken(ctx, rt)
		if err != nil {
			t.Fatal(err)
		}
		var info oidc.UserInfo
		if err := e.s.SetUserinfoFromRequest(ctx, &info, req.(op.IDTokenRequest), req.GetScopes()); err != nil {
			t.Fatal(err)
		}
		if info.Subject != e.alice.ID || info.Email == "" {
			t.Errorf("claims from the shared read: %+v", info)
		}
		if n := reads.Load(); n != 1 {
			t.Errorf("one token request read the user %d times, want 1", n)
		}
		if err := e.users.SetDisabled(t.Context(), e.alice.ID, true); err != nil {
			t.Fatal(err)
		}
		_, err = e.s.TokenRequestByRefreshToken(opstore.WithClientID(t.Context(), "web"), rt)
		var oe *oidc.Error
		if !errors.As(err, &oe) || oe.ErrorType != oidc.InvalidGrant {
			t.Errorf("next request after disabling: err = %v, want invalid_grant", err)
		}
	})
}
