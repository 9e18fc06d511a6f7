package demo

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// The happy path runs against the real provider in cmd/latchkey's
// TestServeDevLoop; these are the refusals, which need no provider.
func TestCallbackRefusals(t *testing.T) {
	d := New("http://127.0.0.1:1", nil) // nothing listens there
	h := d.Handler()
	d.pending["good-state"] = pending{nonce: "n", verifier: "v", expires: d.now().Add(pendingTTL)}
	tests := []struct {
		name   string
		query  string
		cookie string
		status int
		want   string
	}{
		{"no-state-cookie", "?code=c&state=good-state", "", http.StatusBadRequest, "not started in this browser"},
		{"state-mismatch", "?code=c&state=good-state", "other", http.StatusBadRequest, "not started in this browser"},
		{"unknown-state", "?code=c&state=forged", "forged", http.StatusBadRequest, "expired or was already used"},
		{"provider-error-escaped", "?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C/script%3E", "", http.StatusBadRequest, "&lt;script&gt;"},
		{"mix-up-issuer", "?code=c&state=good-state&iss=https://evil.example", "good-state", http.StatusBadRequest, "another issuer"},
		{"state-single-use", "?code=c&state=good-state", "good-state", http.StatusBadRequest, "expired or was already used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:1"+PathCallback+tt.query, nil)
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: stateCookie, Value: tt.cookie})
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tt.status || !strings.Contains(string(body), tt.want) {
				t.Fatalf("%d, want %d with %q:\n%s", rec.Code, tt.status, tt.want, body)
			}
			if strings.Contains(string(body), "<script>") {
				t.Fatal("unescaped provider text in the page")
			}
			if rec.Header().Get("Content-Security-Policy") == "" || rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("missing security headers: %v", rec.Header())
			}
		})
	}
}

func TestLoginWithoutProvider(t *testing.T) {
	d := New("http://127.0.0.1:1", nil)
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:1"+PathLogin, nil))
	if rec.Code != http.StatusBadGateway || len(d.pending) != 0 {
		t.Fatalf("login with the provider down: %d, %d pending", rec.Code, len(d.pending))
	}
}

func TestHomeSignedOut(t *testing.T) {
	d := New("https://id.example.com", nil)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "https://id.example.com"+PathHome, nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: "made-up"})
	d.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Sign in with Latchkey") {
		t.Fatalf("%d:\n%s", rec.Code, rec.Body.String())
	}
	if c := d.cookie(stateCookie, "x", pendingTTL); !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie under https: %+v", c)
	}
}

func TestOtherHostRedirectsToIssuer(t *testing.T) {
	d := New("http://localhost:8080", nil)
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+PathLogin, nil))
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "http://localhost:8080/demo" {
		t.Fatalf("%d %s", rec.Code, rec.Header().Get("Location"))
	}
}

// The demo page is worded by the catalogs in the language picked (?lang=),
// with the configured brand, and no English is left on a German page.
func TestPageInTheChosenLanguage(t *testing.T) {
	en := i18n.English()
	for _, tc := range []struct{ lang, brand string }{{"de", ""}, {"ja", "Example Corp"}, {"ar", ""}, {"en", "Example Corp"}} {
		t.Run(tc.lang, func(t *testing.T) {
			l, _ := i18n.For(tc.lang)
			d := New("https://id.example.com", nil, WithBrand(tc.brand))
			brand := "Latchkey"
			if tc.brand != "" {
				brand = tc.brand
			}
			rec := httptest.NewRecorder()
			d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://id.example.com"+PathHome+"?lang="+tc.lang, nil))
			doc, err := goquery.NewDocumentFromReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got := doc.Find("html").AttrOr("lang", ""); got != tc.lang {
				t.Errorf("lang=%q", got)
			}
			if got, want := strings.TrimSpace(doc.Find("a.button").Text()), l.T("demo.page.sign_in", "Brand", brand); got != want {
				t.Errorf("button %q, want %q", got, want)
			}
			shown := doc.Find("title").Text() + doc.Find("body").Text()
			if !strings.Contains(shown, l.T("signin.login.cant_access")) {
				t.Errorf("the hint does not name the sign-in page's link in %s: %q", tc.lang, shown)
			}
			if tc.brand != "" && strings.Contains(shown, "Latchkey") {
				t.Errorf("the page says Latchkey with a brand: %q", shown)
			}
			if tc.lang == "en" {
				return
			}
			for _, id := range []string{"demo.page.heading", "demo.page.hint"} {
				if e := en.T(id, "Link", en.T("signin.login.cant_access")); strings.Contains(shown, e) {
					t.Errorf("English %q left on the %s page", e, tc.lang)
				}
			}
		})
	}
}

// A refusal is told in the page's language.
func TestRefusalInGerman(t *testing.T) {
	de, _ := i18n.For("de")
	d := New("http://127.0.0.1:1", nil)
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:1"+PathCallback+"?code=c&state=s&lang=de", nil)
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, req)
	doc, _ := goquery.NewDocumentFromReader(rec.Body)
	if got := strings.TrimSpace(doc.Find(`[role="alert"]`).Text()); got != de.T("demo.error.browser") {
		t.Fatalf("refusal %q, want %q", got, de.T("demo.error.browser"))
	}
}

// The sign-in passes the page's language on as ui_locales, so the
// provider's sign-in page (a real one here) is in it too.
func TestLoginPassesTheLanguage(t *testing.T) {
	s := pt.Start(t, dbtest.URL(t, dbtest.SQLite), pt.Config{})
	d := New(s.URL, s.HTTP.Client())
	for _, lang := range []string{"de", "ja"} {
		t.Run(lang, func(t *testing.T) {
			rec := httptest.NewRecorder()
			d.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, s.URL+PathLogin+"?lang="+lang, nil))
			loc, err := url.Parse(rec.Header().Get("Location"))
			if rec.Code != http.StatusSeeOther || err != nil || loc.Query().Get("ui_locales") != lang {
				t.Fatalf("%d to %q, want ui_locales=%s", rec.Code, rec.Header().Get("Location"), lang)
			}
			// The provider does not know the demo client (dev mode
			// registers it), so ask with the test's web client and the
			// same ui_locales: the page comes in that language.
			rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
			page := s.NewBrowser(t).Get(rp.Start(pt.Param("ui_locales", loc.Query().Get("ui_locales"))).URL).Page
			if page == nil || page.Doc.Find("html").AttrOr("lang", "") != lang {
				t.Fatalf("the provider's page is not in %s", lang)
			}
		})
	}
}
