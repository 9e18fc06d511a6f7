package provider_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	lkkeys "github.com/latchkeyid/latchkey/provider/keys"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// A key rotation made by `latchkey keys rotate` (a third process on the
// database) while two instances serve: each instance is reached directly,
// the timeline is sampled through the publish-ahead period, and at every
// moment a relying party (go-oidc, fetching the JWKS afresh) verifies
// every ID token either instance has issued against either instance's
// /keys. No instance signs with the new key before the lead has passed;
// after it both do.
func TestKeyRotationAcrossInstancesVerifiesEverywhere(t *testing.T) {
	pt.Each(t, pt.Config{Instances: 2}, func(t *testing.T, s *pt.Server) {
		ctx := t.Context()
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		_, tok := signIn(t, s, s.NewBrowser(t), rp)
		refresh := tok.OAuth.RefreshToken

		direct := directClients(t, s)

		// idToken refreshes on instance i and returns the new ID token.
		idToken := func(i int) string {
			t.Helper()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/oauth/token",
				strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(pt.WebClient, pt.WebSecret)
			res, err := direct[i].Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body struct {
				RefreshToken string `json:"refresh_token"`
				IDToken      string `json:"id_token"`
			}
			if res.StatusCode != http.StatusOK {
				t.Fatalf("refresh on instance %d: %d", i, res.StatusCode)
			}
			if err := decodeJSON(res, &body); err != nil || body.IDToken == "" {
				t.Fatalf("refresh on instance %d: %v %+v", i, err, body)
			}
			refresh = body.RefreshToken
			return body.IDToken
		}
		kidOf := func(raw string) string {
			t.Helper()
			jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			return jws.Signatures[0].Header.KeyID
		}
		old := kidOf(idToken(0))

		// b's cache reloads out of phase with a's.
		s.Clock.Advance(11 * time.Second)
		idToken(1)
		// The test clock runs on with real time too, so the rotation's
		// moment and each token's are bracketed by readings of it: a slow
		// machine moves the timeline, never the verdict.
		r0 := s.Clock.Now()
		info, err := lkkeys.New(s.DB, s.Keyring, lkkeys.WithClock(s.Clock.Now)).Rotate(ctx, lkkeys.RS256)
		if err != nil {
			t.Fatal(err)
		}
		r1 := s.Clock.Now()

		type issued struct {
			by  int
			at  time.Duration
			raw string
		}
		seen := map[[2]string]issued{} // first token of each instance and kid
		const step = 20 * time.Second
		for at := time.Duration(0); at <= lkkeys.DefaultPublishLead+2*lkkeys.DefaultRefreshEvery; at += step {
			for i := range direct {
				before := s.Clock.Now()
				raw := idToken(i)
				after := s.Clock.Now()
				kid := kidOf(raw)
				switch {
				case kid != old && after.Before(r0.Add(lkkeys.DefaultPublishLead)):
					t.Fatalf("instance %d signed with %s %s after rotation, before the %s lead", i, kid, after.Sub(r0), lkkeys.DefaultPublishLead)
				case kid != info.KID && !before.Before(r1.Add(lkkeys.DefaultPublishLead)):
					t.Fatalf("instance %d still signs with %s %s after rotation", i, kid, before.Sub(r1))
				case kid != old && kid != info.KID:
					t.Fatalf("instance %d signed with %s, neither the old key nor the new", i, kid)
				}
				if _, ok := seen[[2]string{strconv.Itoa(i), kid}]; !ok {
					seen[[2]string{strconv.Itoa(i), kid}] = issued{by: i, at: at, raw: raw}
				}
			}
			for j := range direct {
				// A fresh key set each time: the relying party's refetch
				// may land on either instance at any moment.
				rctx := gooidc.ClientContext(ctx, direct[j])
				v := gooidc.NewVerifier(s.URL, gooidc.NewRemoteKeySet(rctx, s.URL+"/keys"),
					&gooidc.Config{ClientID: pt.WebClient, Now: s.Clock.Now})
				for _, tk := range seen {
					if _, err := v.Verify(rctx, tk.raw); err != nil {
						t.Fatalf("at %s instance %d's /keys does not verify the ID token instance %d issued at %s: %v",
							at, j, tk.by, tk.at, err)
					}
				}
			}
			s.Clock.Advance(step)
		}
		for i := range direct {
			if _, ok := seen[[2]string{strconv.Itoa(i), info.KID}]; !ok {
				t.Fatalf("instance %d never signed with the new key", i)
			}
		}
	})
}

func decodeJSON(res *http.Response, v any) error { return json.NewDecoder(res.Body).Decode(v) }
