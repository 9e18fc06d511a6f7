package opstore_test

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/latchkeyid/latchkey/provider/opstore"
)

func TestCreateAuthRequestPKCE(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		for _, tc := range []struct {
			name, client, challenge string
			method                  oidc.CodeChallengeMethod
			ok                      bool
		}{
			{"public-s256", "spa", challenge, oidc.CodeChallengeMethodS256, true},
			{"public-missing", "spa", "", "", false},
			{"public-plain", "spa", challenge, oidc.CodeChallengeMethodPlain, false},
			{"public-no-method-means-plain", "spa", challenge, "", false},
			{"confidential-s256", "web", challenge, oidc.CodeChallengeMethodS256, true},
			{"confidential-without-pkce", "web", "", "", true},
			{"confidential-plain", "web", challenge, oidc.CodeChallengeMethodPlain, false},
			{"method-without-challenge", "web", "", oidc.CodeChallengeMethodS256, false},
			{"challenge-too-short", "web", "abc", oidc.CodeChallengeMethodS256, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				redir := redirect
				if tc.client == "spa" {
					redir = "https://spa.example.com/cb"
				}
				_, err := e.s.CreateAuthRequest(t.Context(), &oidc.AuthRequest{
					ClientID: tc.client, RedirectURI: redir, Scopes: []string{"openid"},
					ResponseType: oidc.ResponseTypeCode, CodeChallenge: tc.challenge, CodeChallengeMethod: tc.method,
				}, "")
				if (err == nil) != tc.ok {
					t.Fatalf("err = %v, want ok=%v", err, tc.ok)
				}
				var oe *oidc.Error
				if err != nil && (!errors.As(err, &oe) || oe.ErrorType != oidc.InvalidRequest) {
					t.Fatalf("err = %v, want an invalid_request *oidc.Error (sent to the client)", err)
				}
			})
		}
	})
}

func TestAuthRequestStoresEverything(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		maxAge := uint(300)
		created, err := e.s.CreateAuthRequest(ctx, &oidc.AuthRequest{
			ClientID: "web", RedirectURI: redirect, Scopes: []string{"openid", "email"},
			ResponseType: oidc.ResponseTypeCode, State: "xyz", Nonce: "abc", Prompt: []string{"login"},
			MaxAge: &maxAge, LoginHint: "alice@example.com", ACRValues: []string{"2"},
		}, "hinted-sub")
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.s.AuthRequest(ctx, created.GetID())
		if err != nil {
			t.Fatal(err)
		}
		if got.GetState() != "xyz" || got.GetNonce() != "abc" || got.GetLoginHint() != "alice@example.com" ||
			got.GetHintSubject() != "hinted-sub" || got.GetPrompt()[0] != "login" ||
			got.GetMaxAge() == nil || *got.GetMaxAge() != 5*time.Minute || got.GetCodeChallenge() != nil ||
			got.Done() || got.GetRedirectURI() != redirect || len(got.GetScopes()) != 2 {
			t.Fatalf("stored request differs: %+v", got)
		}
		if len(created.GetID()) < 26 {
			t.Fatalf("guessable id %q", created.GetID())
		}
		noMax := e.authorize(t, "web", "openid")
		if noMax.GetMaxAge() != nil {
			t.Fatal("max_age invented")
		}
		// Expiry.
		e.clk.Advance(opstore.DefaultAuthRequestTTL + time.Second)
		if _, err := e.s.AuthRequestByID(ctx, created.GetID()); !errors.Is(err, opstore.ErrRequestGone) {
			t.Fatalf("expired request: %v", err)
		}
		if err := e.s.CompleteAuthRequest(ctx, created.GetID(), e.alice.ID, "s", e.clk.Now(), nil); !errors.Is(err, opstore.ErrRequestGone) {
			t.Fatalf("completed an expired request: %v", err)
		}
	})
}

func TestCompleteAuthRequestOnce(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		ar := e.authorize(t, "web", "openid")
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		if err := e.s.CompleteAuthRequest(ctx, ar.GetID(), e.alice.ID, "sess", at, []string{"pwd", "otp"}); err != nil {
			t.Fatal(err)
		}
		if err := e.s.CompleteAuthRequest(ctx, ar.GetID(), "mallory", "sess2", at, []string{"pwd"}); !errors.Is(err, opstore.ErrRequestGone) {
			t.Fatalf("second completion: %v", err)
		}
		got, _ := e.s.AuthRequest(ctx, ar.GetID())
		if !got.Done() || got.GetSubject() != e.alice.ID || !got.GetAuthTime().Equal(at) ||
			got.GetSessionID() != "sess" || len(got.GetAMR()) != 2 || got.GetACR() != opstore.ACRMultiFactor {
			t.Fatalf("completed request: %+v", got)
		}
		if err := e.s.CompleteAuthRequest(ctx, "unknown", e.alice.ID, "s", at, nil); !errors.Is(err, opstore.ErrRequestGone) {
			t.Fatalf("unknown request: %v", err)
		}
	})
}

func TestCodeIsSingleUse(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		t.Run("no-code-before-sign-in", func(t *testing.T) {
			ar := e.authorize(t, "web", "openid")
			if err := e.s.SaveAuthCode(ctx, ar.GetID(), "c0"); err == nil {
				t.Fatal("code saved for an unfinished request")
			}
		})
		t.Run("one-code-per-request", func(t *testing.T) {
			ar := e.authorize(t, "web", "openid")
			e.signIn(t, ar, "c1")
			if err := e.s.SaveAuthCode(ctx, ar.GetID(), "c1-bis"); err == nil {
				t.Fatal("second code saved")
			}
		})
		t.Run("second-redemption-fails", func(t *testing.T) {
			ar := e.authorize(t, "web", "openid")
			e.signIn(t, ar, "c2")
			got, err := e.s.AuthRequestByCode(ctx, "c2")
			if err != nil || got.GetSubject() != e.alice.ID {
				t.Fatalf("first redemption: %v", err)
			}
			if _, err := e.s.AuthRequestByCode(ctx, "c2"); err == nil {
				t.Fatal("code redeemed twice")
			}
		})
		t.Run("unknown-code", func(t *testing.T) {
			if _, err := e.s.AuthRequestByCode(ctx, "nope"); err == nil {
				t.Fatal("unknown code accepted")
			}
		})
		t.Run("expired-code", func(t *testing.T) {
			ar := e.authorize(t, "web", "openid")
			e.signIn(t, ar, "c3")
			e.clk.Advance(opstore.DefaultCodeTTL)
			if _, err := e.s.AuthRequestByCode(ctx, "c3"); err == nil {
				t.Fatal("expired code accepted")
			}
		})
	})
}

func TestConcurrentCodeRedemption(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ar := e.authorize(t, "web", "openid")
		e.signIn(t, ar, "race")
		const n = 20
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				if _, err := e.s.AuthRequestByCode(t.Context(), "race"); err == nil {
					wins.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if got := wins.Load(); got != 1 {
			t.Fatalf("%d of %d concurrent redemptions succeeded, want exactly 1", got, n)
		}
	})
}

func TestCodeReplayRevokesGrantTokens(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		ar := e.authorize(t, "web", "openid", "offline_access")
		e.signIn(t, ar, "replayed")
		req, err := e.s.AuthRequestByCode(ctx, "replayed")
		if err != nil {
			t.Fatal(err)
		}
		atID, rt, _, err := e.s.CreateAccessAndRefreshTokens(ctx, req, "")
		if err != nil {
			t.Fatal(err)
		}
		// Refresh once: the rotated tokens come from the same grant.
		at2, rt2, err := e.refresh(t, rt)
		if err != nil {
			t.Fatal(err)
		}
		if !e.active(t, at2, e.alice.ID, "web") {
			t.Fatal("fresh token inactive")
		}
		if _, err := e.s.AuthRequestByCode(ctx, "replayed"); err == nil {
			t.Fatal("replay accepted")
		}
		for _, id := range []string{atID, at2} {
			if e.active(t, id, e.alice.ID, "web") {
				t.Errorf("access token %s survived the code replay", id)
			}
		}
		if _, _, err := e.refresh(t, rt2); err == nil {
			t.Error("refresh token survived the code replay")
		}
	})
}

func TestReplayDuringTokenCreationMakesNoTokens(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		ar := e.authorize(t, "web", "openid")
		e.signIn(t, ar, "slow")
		req, err := e.s.AuthRequestByCode(ctx, "slow")
		if err != nil {
			t.Fatal(err)
		}
		// The attacker replays before the legitimate exchange saved tokens.
		if _, err := e.s.AuthRequestByCode(ctx, "slow"); err == nil {
			t.Fatal("replay accepted")
		}
		if _, _, err := e.s.CreateAccessToken(ctx, req); err == nil {
			t.Fatal("tokens issued for a replayed code")
		}
	})
}

func TestCreateAuthRequestBoundsInput(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		long := strings.Repeat("x", 5000)
		many := make([]string, 100)
		for i := range many {
			many[i] = "s"
		}
		for _, tc := range []struct {
			name string
			mod  func(r *oidc.AuthRequest)
		}{
			{"long-state", func(r *oidc.AuthRequest) { r.State = long }},
			{"long-nonce", func(r *oidc.AuthRequest) { r.Nonce = long }},
			{"long-login-hint", func(r *oidc.AuthRequest) { r.LoginHint = long }},
			{"many-scopes", func(r *oidc.AuthRequest) { r.Scopes = many }},
			{"many-prompts", func(r *oidc.AuthRequest) { r.Prompt = many }},
			{"unknown-client", func(r *oidc.AuthRequest) { r.ClientID = "nobody" }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := &oidc.AuthRequest{ClientID: "web", RedirectURI: redirect, Scopes: []string{"openid"},
					ResponseType: oidc.ResponseTypeCode}
				tc.mod(r)
				if _, err := e.s.CreateAuthRequest(t.Context(), r, ""); err == nil {
					t.Fatal("accepted")
				}
			})
		}
	})
}
