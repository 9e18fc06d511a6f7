package provider_test

import (
	"net/url"
	"strings"
	"testing"

	pt "github.com/latchkeyid/latchkey/provider/providertest"
)

// Error pages a person meets in the browser say in plain words what went
// wrong and what to do, in their language; the library's words ("unable to
// retrieve client by id", "response_type must be code") never show.
func TestErrorPagesInPlainWords(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		authorize := func(q url.Values) string { return s.URL + "/authorize?" + q.Encode() }
		good := url.Values{"client_id": {pt.WebClient}, "redirect_uri": {pt.WebRedirect}, "scope": {"openid"},
			"response_type": {"code"}, "state": {"s"}, "nonce": {"n"}}
		with := func(k, v string) url.Values {
			q := url.Values{}
			for kk, vv := range good {
				q[kk] = vv
			}
			q.Set(k, v)
			return q
		}
		for _, tc := range []struct {
			name, url, accept, want string
		}{
			{"unknown-client", authorize(with("client_id", "nope")), "", "Please go back to the application"},
			{"implicit-flow", authorize(with("response_type", "token")), "", "please tell the application's administrator"},
			{"implicit-flow-de", authorize(with("response_type", "token")), "de", "Administration der Anwendung"},
			{"unregistered-redirect-fr", authorize(with("redirect_uri", "https://evil.example/")), "fr", "Veuillez revenir à l’application"},
			{"no-such-page-ja", s.URL + "/nowhere", "ja", "このアドレスには何もありません"},
			{"bad-logout-es", s.URL + "/end_session?client_id=nope", "es", "no está registrada en Latchkey"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				b := s.NewBrowser(t)
				if tc.accept != "" {
					b.Header.Set("Accept-Language", tc.accept)
				}
				res := b.Get(tc.url)
				if res.Page == nil || res.Page.Status < 400 {
					t.Fatalf("want an error page, got %s", res)
				}
				text := res.Page.Text("main")
				if !strings.Contains(text, tc.want) {
					t.Errorf("page says %q, want %q", text, tc.want)
				}
				low := strings.ToLower(text)
				for _, lib := range []string{"client by id", "response_type", "redirect_uri", "invalid_request", "unauthorized_client"} {
					if strings.Contains(low, lib) {
						t.Errorf("page shows the library's words %q: %q", lib, text)
					}
				}
			})
		}
	})
}
