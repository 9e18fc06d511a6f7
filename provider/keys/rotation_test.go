package keys_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/keys"
)

// The defaults must keep a rotated-in key published for longer than every
// cache a key set can sit in before relying parties see it: an instance's
// key cache plus an HTTP cache honouring /keys' max-age, with a margin of
// two.
func TestDefaultPublishLeadOutlastsEveryCache(t *testing.T) {
	if need := 2 * (keys.DefaultRefreshEvery + keys.JWKSMaxAge); keys.DefaultPublishLead < need {
		t.Fatalf("publish lead %s < 2 x (key cache %s + JWKS max-age %s) = %s",
			keys.DefaultPublishLead, keys.DefaultRefreshEvery, keys.JWKSMaxAge, need)
	}
}

// signed is one token an instance signed at a moment of the timeline.
type signed struct {
	by, kid, jws string
	at           time.Duration
}

func sign(t *testing.T, m *keys.Manager, alg keys.Alg) (kid, jws string) {
	t.Helper()
	k, err := m.Signing(t.Context(), alg)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k.Key()},
		(&jose.SignerOptions{}).WithHeader("kid", k.ID()))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign([]byte(`{"sub":"alice"}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return k.ID(), out
}

// verifies reports whether the key set verifies the token.
func verifies(t *testing.T, set *jose.JSONWebKeySet, tok signed) error {
	t.Helper()
	ks := set.Key(tok.kid)
	if len(ks) == 0 {
		return fmt.Errorf("kid %s not in the key set", tok.kid)
	}
	obj, err := jose.ParseSigned(tok.jws, keys.Algs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obj.Verify(ks[0].Key); err != nil {
		return err
	}
	return nil
}

// TestRotationPublishesBeforeAnyInstanceSigns runs two instances (own
// pools, own key caches) on one database while a third process (`latchkey
// keys rotate`) rotates, and samples the timeline with the real cache and
// publish-ahead defaults: until the lead has passed neither instance signs
// with the new key, though both publish it within their cache interval;
// after it both sign with it; and at every moment every token any
// instance has signed verifies against every instance's JWKS.
func TestRotationPublishesBeforeAnyInstanceSigns(t *testing.T) {
	for _, alg := range keys.Algs {
		t.Run(string(alg), func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, url string) {
				ctx := t.Context()
				clk := newClock()
				kr := keyring(t)
				g := dbtest.Open(t, url, sets()...)
				a := keys.New(g, kr, keys.WithClock(clk.Now))
				b := keys.New(dbtest.Open(t, url), kr, keys.WithClock(clk.Now))
				if err := a.Ensure(ctx); err != nil {
					t.Fatal(err)
				}
				// b's cache reloads out of phase with a's.
				clk.Advance(17 * time.Second)
				if err := b.Ensure(ctx); err != nil {
					t.Fatal(err)
				}
				old, _ := a.Signing(ctx, alg)
				clk.Advance(5 * time.Second)
				info, err := keys.New(dbtest.Open(t, url), kr, keys.WithClock(clk.Now)).Rotate(ctx, alg)
				if err != nil {
					t.Fatal(err)
				}
				instances := []struct {
					name string
					m    *keys.Manager
				}{{"a", a}, {"b", b}}
				// Whether a key set verifies a token depends only on its
				// kid: keep the first token of each instance and key.
				tokens := map[[2]string]signed{}
				published := map[string]bool{}
				const step = 3 * time.Second
				end := keys.DefaultPublishLead + 3*keys.DefaultRefreshEvery
				for at := time.Duration(0); at <= end; at += step {
					for _, in := range instances {
						kid, jws := sign(t, in.m, alg)
						if _, ok := tokens[[2]string{in.name, kid}]; !ok {
							tokens[[2]string{in.name, kid}] = signed{by: in.name, kid: kid, jws: jws, at: at}
						}
						switch {
						case at < keys.DefaultPublishLead && kid != old.ID():
							t.Fatalf("%s signs with %s %s after rotation, before the %s lead ended", in.name, kid, at, keys.DefaultPublishLead)
						case at >= keys.DefaultPublishLead && kid != info.KID:
							t.Fatalf("%s still signs with %s %s after rotation, after the lead", in.name, kid, at)
						}
						if _, ok := kids(t, in.m)[info.KID]; ok {
							published[in.name] = true
						} else if at >= keys.DefaultRefreshEvery {
							t.Fatalf("%s does not publish the new key %s after rotation", in.name, at)
						}
					}
					for _, in := range instances {
						jwks, err := in.m.JWKS(ctx)
						if err != nil {
							t.Fatal(err)
						}
						var set jose.JSONWebKeySet
						if err := json.Unmarshal(jwks, &set); err != nil {
							t.Fatal(err)
						}
						for _, tok := range tokens {
							if err := verifies(t, &set, tok); err != nil {
								t.Fatalf("at %s %s's JWKS does not verify the token %s signed at %s with %s: %v",
									at, in.name, tok.by, tok.at, tok.kid, err)
							}
						}
					}
					clk.Advance(step)
				}
				if !published["a"] || !published["b"] {
					t.Fatalf("new key published by %v", published)
				}
				for _, in := range instances {
					if _, ok := tokens[[2]string{in.name, info.KID}]; !ok {
						t.Fatalf("%s signed no token with the new key", in.name)
					}
				}
			})
		})
	}
}

// A second rotation inside the first one's publish-ahead period queues
// behind it: each key signs from its own not_before, and every key stays
// published until the retention after its successor took over.
func TestRotateTwiceWithinTheLead(t *testing.T) {
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		clk := newClock()
		const lead, retention = 10 * time.Minute, time.Hour
		m := keys.New(g, keyring(t), keys.WithClock(clk.Now), keys.WithPublishLead(lead), keys.WithRetention(retention))
		if err := m.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		first, _ := m.Signing(ctx, keys.RS256)
		second, err := m.Rotate(ctx, keys.RS256)
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		third, err := m.Rotate(ctx, keys.RS256)
		if err != nil {
			t.Fatal(err)
		}
		timeline := []struct {
			name      string
			after     time.Duration // since the second rotation
			signs     string
			published []string
		}{
			{"before-either-lead", 2 * time.Minute, first.ID(), []string{first.ID(), second.KID, third.KID}},
			{"second-takes-over", lead, second.KID, []string{first.ID(), second.KID, third.KID}},
			{"third-takes-over", lead + time.Minute, third.KID, []string{first.ID(), second.KID, third.KID}},
			{"first-unpublished", lead + retention + time.Second, third.KID, []string{second.KID, third.KID}},
			{"second-unpublished", lead + time.Minute + retention + time.Second, third.KID, []string{third.KID}},
		}
		start := clk.Now().Add(-time.Minute)
		for _, tc := range timeline {
			t.Run(tc.name, func(t *testing.T) {
				clk.Advance(start.Add(tc.after).Sub(clk.Now()))
				if err := m.Refresh(ctx); err != nil {
					t.Fatal(err)
				}
				if k, _ := m.Signing(ctx, keys.RS256); k.ID() != tc.signs {
					t.Errorf("signs with %s, want %s", k.ID(), tc.signs)
				}
				got := kids(t, m)
				for _, kid := range tc.published {
					if _, ok := got[kid]; !ok {
						t.Errorf("%s not published: %v", kid, got)
					}
				}
				if rs := len(got) - 1; rs != len(tc.published) { // minus the ES256 key
					t.Errorf("%d RS256 keys published, want %d: %v", rs, len(tc.published), got)
				}
			})
		}
	})
}
