package chrometest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
)

// The helpers against a tiny TLS site with a strict CSP: text, typing,
// clicks, a trusted certificate, and a CSP violation reported as a
// problem.
func TestHelpers(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'")
		switch r.URL.Path {
		case "/app.js":
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprint(w, `document.getElementById("go").onclick = function () {
  document.getElementById("out").textContent = "Hello, " + document.getElementById("name").value + (window.isSecureContext ? " (secure)" : "");
};`)
		case "/inline":
			fmt.Fprint(w, `<!doctype html><p id="p">inline</p><script>document.title = "ran"</script>`)
		default:
			fmt.Fprint(w, `<!doctype html><input id="name"><button id="go">Go</button><p id="out"></p><script src="/app.js"></script>`)
		}
	}))
	defer srv.Close()
	b := chrometest.Start(t, chrometest.Trust(srv.Certificate()))

	tab := b.NewTab()
	tab.Go(srv.URL + "/")
	tab.Type("#name", "Alice")
	tab.Click("#go")
	if got := tab.WaitText("#out", "Hello"); got != "Hello, Alice (secure)" {
		t.Errorf("page shows %q", got)
	}
	if pr := tab.Problems(); len(pr) != 0 {
		t.Errorf("problems on a clean page: %v", pr)
	}

	other := b.NewDevice()
	other.Go(srv.URL + "/inline")
	other.WaitText("#p", "inline")
	if title := chrometest.Eval[string](other, "document.title"); title == "ran" {
		t.Fatalf("the inline script ran despite the CSP")
	}
	other.WaitFor("the CSP violation in the console", func() bool {
		pr := other.Problems()
		return len(pr) > 0 && strings.Contains(strings.Join(pr, " "), "Content Security Policy")
	})
}
