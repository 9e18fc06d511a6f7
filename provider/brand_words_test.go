package provider_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/opstore"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/ui"
)

// shownText is what a person reads or hears on p: the title, the text of
// the body and the alternative texts of its images.
func shownText(p *pt.Page) string {
	parts := []string{p.Text("title"), p.Text("body")}
	p.Doc.Find("img[alt]").Each(func(_ int, s *goquery.Selection) { parts = append(parts, s.AttrOr("alt", "")) })
	return strings.Join(parts, " ")
}

// With a brand configured, the consent, signed-out and refusal pages say
// its name and never "Latchkey"; the consent page names the app asking and
// shows its logo. Without one, they say Latchkey.
func TestBrandOnConsentLogoutAndRefusals(t *testing.T) {
	const logo = "data:image/png;base64,iVBORw0KGgo="
	for _, tc := range []struct {
		name, brand, want string
	}{
		{"configured", "Example Corp", "Example Corp"},
		{"default", "", "Latchkey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ui.New(ui.WithBrand(ui.Brand{Name: tc.brand}))
			if err != nil {
				t.Fatal(err)
			}
			s := pt.Start(t, dbtest.URL(t, dbtest.SQLite), pt.Config{Provider: func(o *provider.Options) { o.Renderer = r }})
			check := func(t *testing.T, what string, p *pt.Page, more ...string) {
				t.Helper()
				shown := shownText(p)
				for _, w := range append([]string{tc.want}, more...) {
					if !strings.Contains(shown, w) {
						t.Errorf("%s: no %q in %q", what, w, shown)
					}
				}
				if tc.want != "Latchkey" && strings.Contains(shown, "Latchkey") {
					t.Errorf("%s says Latchkey: %q", what, shown)
				}
			}
			if _, err := s.OPStore.UpdateClient(t.Context(), pt.ThirdPartyClient, opstore.ClientChange{LogoURI: new(logo)}); err != nil {
				t.Fatal(err)
			}
			b := s.NewBrowser(t)
			rp := s.NewRP(t, pt.ThirdPartyClient, pt.ThirdPartySecret, pt.ThirdPartyRedirect)

			t.Run("consent", func(t *testing.T) {
				res := b.SignIn(b.Get(rp.Start().URL).Page, pt.Username, pt.Password)
				if res.Page == nil || res.Page.URL.Path != "/consent" {
					t.Fatalf("no consent page: %s", res)
				}
				check(t, "consent", res.Page, "Allow Partner Portal to access your account?")
				if src := res.Page.Doc.Find("main img").AttrOr("src", ""); src != logo {
					t.Errorf("consent page logo %q, want the app's %q", src, logo)
				}
			})
			t.Run("refused-request", func(t *testing.T) {
				res := b.Get(s.URL + "/authorize?" + url.Values{"client_id": {"nope"}, "response_type": {"code"}, "scope": {"openid"},
					"redirect_uri": {"https://nope.example/cb"}}.Encode())
				if res.Page == nil {
					t.Fatalf("no page: %s", res)
				}
				check(t, "refused request", res.Page, "a sign-in request that "+tc.want+" cannot accept")
			})
			t.Run("signed-out", func(t *testing.T) {
				account := b.Get(s.URL + "/")
				if account.Page == nil || account.Page.URL.Path != "/" {
					t.Fatalf("no account page: %s", account)
				}
				out := b.Submit(account.Page, `form[action="/logout"]`, nil)
				if out.Page == nil {
					t.Fatalf("no signed-out page: %s", out)
				}
				check(t, "signed out", out.Page, "You have been signed out of "+tc.want+" on this browser.")
			})
		})
	}
}
