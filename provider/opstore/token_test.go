package opstore_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/latchkeyid/latchkey/provider/opstore"
)

func TestRevokeToken(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		t.Run("access-token-by-owner", func(t *testing.T) {
			at, _ := e.codeTokens(t, "web", false)
			if oe := e.s.RevokeToken(ctx, at, e.alice.ID, "web"); oe != nil {
				t.Fatal(oe)
			}
			if e.active(t, at, e.alice.ID, "web") {
				t.Fatal("revoked access token active")
			}
		})
		t.Run("access-token-of-another-client", func(t *testing.T) {
			at, _ := e.codeTokens(t, "web", false)
			if oe := e.s.RevokeToken(ctx, at, e.alice.ID, "svc"); oe == nil || oe.ErrorType != oidc.InvalidClient {
				t.Fatalf("another client revoked it: %v", oe)
			}
			if !e.active(t, at, e.alice.ID, "web") {
				t.Fatal("token revoked by a stranger")
			}
		})
		t.Run("refresh-token-id-revokes-family", func(t *testing.T) {
			at1, rt1 := e.codeTokens(t, "web", true)
			at2, rt2, err := e.refresh(t, rt1)
			if err != nil {
				t.Fatal(err)
			}
			_, tid, err := e.s.GetRefreshTokenInfo(ctx, "web", rt2)
			if err != nil {
				t.Fatal(err)
			}
			if oe := e.s.RevokeToken(ctx, tid, e.alice.ID, "web"); oe != nil {
				t.Fatal(oe)
			}
			if _, _, err := e.refresh(t, rt2); err == nil {
				t.Fatal("revoked refresh token works")
			}
			for _, at := range []string{at1, at2} {
				if e.active(t, at, e.alice.ID, "web") {
					t.Fatal("access token of a revoked family still active")
				}
			}
		})
		t.Run("raw-refresh-token-of-another-client", func(t *testing.T) {
			_, rt := e.codeTokens(t, "web", true)
			if oe := e.s.RevokeToken(ctx, rt, "", "spa"); oe == nil {
				t.Fatal("another client revoked a refresh token")
			}
			if oe := e.s.RevokeToken(ctx, rt, "", "web"); oe != nil {
				t.Fatal(oe)
			}
			if _, err := e.s.TokenRequestByRefreshToken(ctx, rt); err == nil {
				t.Fatal("raw-revoked refresh token works")
			}
		})
		t.Run("unknown-is-not-an-error", func(t *testing.T) {
			for _, tok := range []string{"", "nope", string(make([]byte, 10000))} {
				if oe := e.s.RevokeToken(ctx, tok, "", "web"); oe != nil {
					t.Fatalf("unknown token: %v", oe)
				}
			}
		})
	})
}

func TestIntrospection(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		at, _ := e.codeTokens(t, "web", false)
		var resp oidc.IntrospectionResponse
		if err := e.s.SetIntrospectionFromToken(ctx, &resp, at, e.alice.ID, "web"); err != nil {
			t.Fatal(err)
		}
		if resp.Subject != e.alice.ID || resp.ClientID != "web" || resp.Expiration == 0 ||
			!slices.Contains([]string(resp.Scope), "openid") || !slices.Contains([]string(resp.Audience), "web") {
			t.Fatalf("introspection: %+v", resp)
		}
		for _, tc := range []struct {
			name, token, subject, client string
			prep                         func()
		}{
			{name: "other-client", token: at, subject: e.alice.ID, client: "svc"},
			{name: "wrong-subject", token: at, subject: "bob", client: "web"},
			{name: "unknown", token: "nope", subject: e.alice.ID, client: "web"},
			{name: "disabled-user", token: at, subject: e.alice.ID, client: "web",
				prep: func() { e.users.SetDisabled(ctx, e.alice.ID, true) }},
			{name: "revoked", token: at, subject: e.alice.ID, client: "web", prep: func() {
				e.users.SetDisabled(ctx, e.alice.ID, false)
				e.s.RevokeToken(ctx, at, e.alice.ID, "web")
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.prep != nil {
					tc.prep()
				}
				var r oidc.IntrospectionResponse
				if err := e.s.SetIntrospectionFromToken(ctx, &r, tc.token, tc.subject, tc.client); err == nil {
					t.Fatal("inactive token reported active")
				}
				if r.Subject != "" || r.ClientID != "" {
					t.Fatalf("inactive response carries details: %+v", r)
				}
			})
		}
		t.Run("expired", func(t *testing.T) {
			at, _ := e.codeTokens(t, "web", false)
			e.clk.Advance(opstore.DefaultAccessTTL)
			if e.active(t, at, e.alice.ID, "web") {
				t.Fatal("expired token active")
			}
		})
	})
}

func TestUserinfo(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		ar := e.authorize(t, "web", "openid", "profile", "email", "groups")
		e.signIn(t, ar, "ui")
		req, _ := e.s.AuthRequestByCode(ctx, "ui")
		at, _, err := e.s.CreateAccessToken(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var info oidc.UserInfo
		if err := e.s.SetUserinfoFromToken(ctx, &info, at, e.alice.ID, ""); err != nil {
			t.Fatal(err)
		}
		if info.Subject != e.alice.ID || info.PreferredUsername != "alice" || info.Email != "alice@example.com" ||
			info.Name != "alice" || bool(info.EmailVerified) {
			t.Fatalf("userinfo: %+v", info)
		}
		if g, _ := info.Claims["groups"].([]string); !slices.Contains(g, "staff") {
			t.Fatalf("groups claim: %v", info.Claims)
		}

		t.Run("scopes-limit-claims", func(t *testing.T) {
			at, _ := e.codeTokensScopes(t, "openid")
			var info oidc.UserInfo
			if err := e.s.SetUserinfoFromToken(ctx, &info, at, e.alice.ID, ""); err != nil {
				t.Fatal(err)
			}
			if info.Subject != e.alice.ID || info.Email != "" || info.PreferredUsername != "" || info.Claims["groups"] != nil {
				t.Fatalf("claims without their scope: %+v", info)
			}
		})
		t.Run("client-credentials-token", func(t *testing.T) {
			tr, _ := e.s.ClientCredentialsTokenRequest(ctx, "svc", []string{"openid", "api"})
			id, _, err := e.s.CreateAccessToken(ctx, tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.s.SetUserinfoFromToken(ctx, new(oidc.UserInfo), id, "svc", ""); err == nil {
				t.Fatal("userinfo for a client-credentials token")
			}
		})
		t.Run("disabled-user", func(t *testing.T) {
			e.users.SetDisabled(ctx, e.alice.ID, true)
			defer e.users.SetDisabled(ctx, e.alice.ID, false)
			if err := e.s.SetUserinfoFromToken(ctx, new(oidc.UserInfo), at, e.alice.ID, ""); err == nil {
				t.Fatal("userinfo for a disabled user")
			}
		})
		t.Run("revoked-token", func(t *testing.T) {
			e.s.RevokeToken(ctx, at, e.alice.ID, "web")
			if err := e.s.SetUserinfoFromToken(ctx, new(oidc.UserInfo), at, e.alice.ID, ""); err == nil {
				t.Fatal("userinfo for a revoked token")
			}
		})
		t.Run("expired-token", func(t *testing.T) {
			at, _ := e.codeTokensScopes(t, "openid")
			e.clk.Advance(opstore.DefaultAccessTTL + time.Second)
			if err := e.s.SetUserinfoFromToken(ctx, new(oidc.UserInfo), at, e.alice.ID, ""); err == nil {
				t.Fatal("userinfo for an expired token")
			}
		})
	})
}

func (e *env) codeTokensScopes(t *testing.T, scopes ...string) (string, *opstore.AuthRequest) {
	t.Helper()
	ar := e.authorize(t, "web", scopes...)
	code := "c-" + ar.GetID()
	e.signIn(t, ar, code)
	req, err := e.s.AuthRequestByCode(t.Context(), code)
	if err != nil {
		t.Fatal(err)
	}
	at, _, err := e.s.CreateAccessToken(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	return at, req.(*opstore.AuthRequest)
}

func TestIDTokenClaimsFromRequest(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		_, req := e.codeTokensScopes(t, "openid", "email")
		var info oidc.UserInfo
		if err := e.s.SetUserinfoFromRequest(t.Context(), &info, req, []string{"openid", "email"}); err != nil {
			t.Fatal(err)
		}
		if info.Subject != e.alice.ID || info.Email == "" || info.Claims["sid"] != "sess-1" {
			t.Fatalf("ID token claims: %+v", info)
		}
		if req.GetNonce() == "" || req.GetACR() != opstore.ACRSingleFactor || req.GetAuthTime().IsZero() ||
			!slices.Equal(req.GetAMR(), []string{"pwd"}) {
			t.Fatalf("request lacks nonce/acr/auth_time/amr: %+v", req)
		}
	})
}

func TestClientCredentialsTokens(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		if _, err := e.s.ClientCredentials(ctx, "svc", "wrong-secret-wrong-secret-wrong-secret"); err == nil {
			t.Fatal("wrong secret accepted")
		}
		c, err := e.s.ClientCredentials(ctx, "svc", e.svcSec)
		if err != nil || c.GetID() != "svc" {
			t.Fatal(err)
		}
		tr, err := e.s.ClientCredentialsTokenRequest(ctx, "svc", []string{"openid", "offline_access", "api:read"})
		if err != nil {
			t.Fatal(err)
		}
		// Scopes Latchkey does not know are dropped (the admin scope is the
		// only one a client-credentials token can carry).
		if len(tr.GetScopes()) != 0 || tr.GetSubject() != "svc" {
			t.Fatalf("client credentials request: %v %s", tr.GetScopes(), tr.GetSubject())
		}
		id, exp, err := e.s.CreateAccessToken(ctx, tr)
		if err != nil || !exp.After(e.clk.Now()) {
			t.Fatal(err)
		}
		if !e.active(t, id, "svc", "svc") {
			t.Fatal("client credentials token inactive")
		}
	})
}

func TestTerminateSession(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		at, rt := e.codeTokens(t, "web", true)
		if err := e.s.TerminateSession(t.Context(), e.alice.ID, "web"); err != nil {
			t.Fatal(err)
		}
		if e.active(t, at, e.alice.ID, "web") {
			t.Fatal("access token survived logout")
		}
		if _, err := e.s.TokenRequestByRefreshToken(t.Context(), rt); err == nil {
			t.Fatal("refresh token survived logout")
		}
	})
}

func TestJWTProfileNeutralised(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		if k, err := e.s.GetKeyByIDAndClientID(t.Context(), "any", "web"); err == nil || k != nil {
			t.Fatal("client key returned: private_key_jwt / JWT profile would be possible")
		}
		if _, err := e.s.ValidateJWTProfileScopes(t.Context(), e.alice.ID, []string{"openid"}); err == nil {
			t.Fatal("JWT profile scopes validated")
		}
		if _, _, err := e.s.CreateAccessToken(t.Context(), &oidc.JWTTokenRequest{Subject: e.alice.ID}); err == nil {
			t.Fatal("token for a JWT-profile request")
		}
	})
}

func TestNoTokensForUserDisabledAfterSignIn(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		for _, refresh := range []bool{false, true} {
			scopes := []string{"openid"}
			if refresh {
				scopes = append(scopes, "offline_access")
			}
			ar := e.authorize(t, "web", scopes...)
			code := "d-" + ar.GetID()
			e.signIn(t, ar, code)
			req, err := e.s.AuthRequestByCode(ctx, code)
			if err != nil {
				t.Fatal(err)
			}
			e.users.SetDisabled(ctx, e.alice.ID, true)
			if refresh {
				_, _, _, err = e.s.CreateAccessAndRefreshTokens(ctx, req, "")
			} else {
				_, _, err = e.s.CreateAccessToken(ctx, req)
			}
			var oe *oidc.Error
			if !errors.As(err, &oe) || oe.ErrorType != oidc.InvalidGrant {
				t.Fatalf("refresh=%v: %v, want invalid_grant", refresh, err)
			}
			if err := e.s.SetUserinfoFromRequest(ctx, new(oidc.UserInfo), req.(*opstore.AuthRequest), scopes); !errors.As(err, &oe) || oe.ErrorType != oidc.InvalidGrant {
				t.Fatalf("ID token claims for a disabled user: %v", err)
			}
			e.users.SetDisabled(ctx, e.alice.ID, false)
		}
	})
}
