package plugin_test

import (
	"net/url"
	"testing"

	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
)

// langOf is the page's <html lang>.
func langOf(p *pt.Page) string { l, _ := p.Doc.Find("html").Attr("lang"); return l }

// The app's ui_locales chooses the language of every page of its sign-in,
// the recovery pages included; a pick on the picker wins from then on;
// garbage falls back to Accept-Language, then English.
func TestSignInLanguage(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := plugintest.Start(t, dbURL, plugintest.Options{Methods: []string{"totp", "email"}})
		rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		open := func(b *pt.Browser, u string) *pt.Page {
			t.Helper()
			res := b.Get(u)
			if res.Page == nil {
				t.Fatalf("GET %s: %s", u, res)
			}
			return res.Page
		}
		follow := func(b *pt.Browser, p *pt.Page, sel string) *pt.Page {
			t.Helper()
			href, ok := p.Doc.Find(sel).First().Attr("href")
			if !ok {
				t.Fatalf("no %s on %s:\n%s", sel, p.URL, p.Body)
			}
			ref, _ := url.Parse(href)
			return open(b, p.URL.ResolveReference(ref).String())
		}

		b := x.Server.NewBrowser(t)
		b.Header.Set("Accept-Language", "es")
		login := open(b, rp.Start(pt.Param("ui_locales", "tlh de-AT fr")).URL)
		if got := langOf(login); got != "de" {
			t.Fatalf("sign-in page with ui_locales=de-AT: lang %q", got)
		}
		start := follow(b, login, `a[href^="/recover"]`)
		if got := langOf(start); got != "de" {
			t.Errorf("recovery start page of that sign-in: lang %q, want de", got)
		}
		picked := follow(b, start, `nav.languages a[hreflang="ar"]`)
		if got, dir := langOf(picked), picked.Doc.Find("html").AttrOr("dir", ""); got != "ar" || dir != "rtl" {
			t.Errorf("after picking Arabic: lang %q dir %q", got, dir)
		}
		if got := langOf(open(b, login.URL.String())); got != "ar" {
			t.Errorf("sign-in page after the pick: lang %q, want ar (the pick is newer than the sign-in)", got)
		}
		// A new sign-in asking for French wins over the earlier pick.
		if got := langOf(open(b, rp.Start(pt.Param("ui_locales", "fr-CA")).URL)); got != "fr" {
			t.Errorf("new sign-in with ui_locales=fr-CA: lang %q", got)
		}

		for _, tc := range []struct{ ui, accept, want string }{
			{"<script>", "ja,en;q=0.5", "ja"},
			{"xx-garbage 12345", "", "en"},
			{"", "zz, es-MX;q=0.8", "es"},
		} {
			b := x.Server.NewBrowser(t)
			b.Header.Set("Accept-Language", tc.accept)
			if got := langOf(open(b, rp.Start(pt.Param("ui_locales", tc.ui)).URL)); got != tc.want {
				t.Errorf("ui_locales %q, Accept-Language %q: lang %q, want %q", tc.ui, tc.accept, got, tc.want)
			}
		}
	})
}
