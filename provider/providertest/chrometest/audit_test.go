package chrometest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
)

// axe-core runs under a strict CSP and reports what a page breaks: an
// image without alt text, a field without a label, grey-on-grey text;
// a clean page has no violation.
func TestAxeFindsViolations(t *testing.T) {
	axe := chrometest.Axe(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'")
		body := `<main><h1>Fine</h1><p>Plain text.</p></main>`
		if r.URL.Path == "/bad" {
			body = `<main><h1>Bad</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><input id="x"><p style="color:#aaa;background:#fff">faint</p></main>`
		}
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><title>t</title></head><body>`+body+`</body></html>`)
	}))
	defer srv.Close()
	tab := chrometest.Start(t, chrometest.Trust(srv.Certificate())).NewTab()

	tab.Go(srv.URL + "/good")
	if v := tab.AxeViolations(axe); len(v) != 0 {
		t.Errorf("violations on a clean page: %v", v)
	}
	tab.Go(srv.URL + "/bad")
	var ids []string
	for _, v := range tab.AxeViolations(axe) {
		ids = append(ids, v.ID)
	}
	for _, want := range []string{"image-alt", "label", "color-contrast"} {
		if !strings.Contains(strings.Join(ids, " "), want) {
			t.Errorf("axe missed %s (found %v)", want, ids)
		}
	}
}
