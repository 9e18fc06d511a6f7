package provider_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/opstore"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/ui"
)

// The configured brand replaces Latchkey's name, logo, colours and
// support link on the pages; without one, pages say Latchkey and load no
// brand stylesheet.
func TestBrandOnPages(t *testing.T) {
	const logo = "data:image/svg+xml;base64,PHN2ZyB4bWxucz0naHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmcnLz4="
	tests := []struct {
		name  string
		brand *ui.Brand
		want  []string
		not   []string
		css   string // brand.css must contain it
	}{
		{"default", nil,
			[]string{"<title>Sign in · Latchkey</title>", `<span class="brand-name">Latchkey</span>`},
			[]string{"brand.css", "<footer"}, ""},
		{"configured", &ui.Brand{Name: "Example Corp", LogoURL: logo, Color: "#6b2fa6", Accent: "#d9b8ff", SupportURL: "https://help.example.com/x"},
			[]string{"<title>Sign in · Example Corp</title>", `<img src="` + strings.ReplaceAll(logo, "+", "&#43;") + `" alt="Example Corp"`, `href="/static/brand.css"`,
				`<a href="https://help.example.com/x">Need help? Contact support</a>`},
			[]string{">Latchkey<"}, ":root{--accent:#6b2fa6}"},
		{"support-mail", &ui.Brand{SupportMail: "help@example.com"},
			[]string{`<a href="mailto:help@example.com">`}, []string{"brand.css"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := pt.Config{}
			if tt.brand != nil {
				r, err := ui.New(ui.WithBrand(*tt.brand))
				if err != nil {
					t.Fatal(err)
				}
				cfg.Provider = func(o *provider.Options) { o.Renderer = r }
			}
			s := pt.Start(t, dbtest.URL(t, dbtest.SQLite), cfg)
			rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
			page := s.NewBrowser(t).Get(rp.Start().URL).Page
			for _, w := range tt.want {
				if !strings.Contains(page.Body, w) {
					t.Errorf("sign-in page lacks %q:\n%s", w, page.Body)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(page.Body, n) {
					t.Errorf("sign-in page has %q", n)
				}
			}
			if page.Header.Get("Content-Security-Policy") != "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' data:; connect-src 'self'; manifest-src 'self'; worker-src 'self'; frame-ancestors 'none'; base-uri 'none'" {
				t.Errorf("the brand changed the CSP: %s", page.Header.Get("Content-Security-Policy"))
			}
			if tt.css == "" {
				return
			}
			res, err := s.HTTP.Client().Get(s.URL + "/static/brand.css")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/css") || !strings.Contains(string(body), tt.css) {
				t.Errorf("brand.css: %d %s %q", res.StatusCode, res.Header.Get("Content-Type"), body)
			}
		})
	}
}

// An app with a logo and a name gets its name and logo on its sign-in page; a
// logo on another host (set before the rule, or in the database by hand)
// is left out rather than blocked by the CSP.
func TestAppLogoOnSignIn(t *testing.T) {
	const logo = "data:image/png;base64,iVBORw0KGgo="
	s := pt.Start(t, dbtest.URL(t, dbtest.SQLite), pt.Config{})
	for _, tc := range []struct {
		name, logo string
		shown      bool
	}{
		{"inline", logo, true},
		{"issuer", s.URL + "/assets/app.png", true},
		{"other-host", "https://cdn.example/app.png", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.OPStore.UpdateClient(t.Context(), pt.WebClient, opstore.ClientChange{LogoURI: &tc.logo}); err != nil {
				t.Fatal(err)
			}
			rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
			page := s.NewBrowser(t).Get(rp.Start().URL).Page
			if intro := page.Text("main"); !strings.Contains(intro, "Web App") {
				t.Errorf("the sign-in page does not name the app: %q", intro)
			}
			img := `<img src="` + tc.logo + `"`
			if got := strings.Contains(page.Body, img); got != tc.shown {
				t.Errorf("logo shown %v, want %v:\n%s", got, tc.shown, page.Body)
			}
		})
	}
}
