package opstore_test

import (
	"errors"
	"testing"

	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/opstore"
)

// RevokeUser ends the user's unredeemed codes, completed requests and
// tokens, spares the request a finishing recovery continues, and touches
// no other request.
func TestRevokeUserEndsGrants(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		at, rt := e.codeTokens(t, "web", true)
		unredeemed := e.authorize(t, "web", "openid")
		e.signIn(t, unredeemed, "code-unredeemed")
		completed := e.authorize(t, "web", "openid")
		if err := e.s.CompleteAuthRequest(ctx, completed.GetID(), e.alice.ID, "sess-2", e.clk.Now(), []string{"pwd"}); err != nil {
			t.Fatal(err)
		}
		kept := e.authorize(t, "web", "openid")
		if err := e.s.CompleteAuthRequest(ctx, kept.GetID(), e.alice.ID, "sess-3", e.clk.Now(), []string{"otp"}); err != nil {
			t.Fatal(err)
		}
		pending := e.authorize(t, "web", "openid") // nobody's yet

		if err := e.s.RevokeUser(ctx, e.g, e.alice.ID, e.clk.Now(), account.Keep{AuthRequest: kept.GetID()}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.AuthRequestByCode(ctx, "code-unredeemed"); err == nil {
			t.Error("unredeemed code still redeems")
		}
		if err := e.s.SaveAuthCode(ctx, completed.GetID(), "code-late"); err == nil {
			t.Error("completed request still gets a code")
		}
		if _, err := e.s.AuthRequest(ctx, completed.GetID()); !errors.Is(err, opstore.ErrRequestGone) {
			t.Errorf("completed request still there: %v", err)
		}
		for name, id := range map[string]string{"kept": kept.GetID(), "pending": pending.GetID()} {
			if _, err := e.s.AuthRequest(ctx, id); err != nil {
				t.Errorf("%s request gone: %v", name, err)
			}
		}
		if _, err := e.s.TokenRequestByRefreshToken(ctx, rt); err == nil {
			t.Error("refresh token survived")
		}
		if e.active(t, at, e.alice.ID, "web") {
			t.Error("access token survived")
		}
	})
}
