package main

import (
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// A client's logo is set at create or update, kept to what the pages' CSP
// shows (inline images, the issuer's origin), and removed with an empty
// value; names change too.
func TestClientLogo(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		c := newCLI(t, url)
		const logo = "data:image/png;base64,iVBORw0KGgo="
		steps := []cliStep{
			{"create-with-logo", "", []string{"client", "create", "--id", "spa", "--name", "SPA", "--redirect-uri", "https://spa.example/cb", "--public", "--logo-uri", logo}, 0, "created client spa", ""},
			{"show-logo", "", []string{"client", "show", "spa"}, 0, logo, ""},
			{"other-host-refused", "", []string{"client", "create", "--id", "cdn", "--name", "CDN", "--redirect-uri", "https://cdn.example/cb", "--public", "--logo-uri", "https://cdn.example/logo.png"}, exitUsage, "issuer's origin", ""},
			{"script-refused", "", []string{"client", "update", "spa", "--logo-uri", "javascript:alert(1)"}, exitUsage, "--logo-uri", ""},
			{"update-name-and-logo", "", []string{"client", "update", "spa", "--name", "Expenses", "--logo-uri", "data:image/svg+xml;base64,PHN2Zy8+"}, 0, "updated client spa", ""},
			{"show-updated", "", []string{"client", "show", "spa"}, 0, "Expenses", ""},
			{"update-nothing", "", []string{"client", "update", "spa"}, exitUsage, "nothing to change", ""},
			{"update-unknown", "", []string{"client", "update", "nope", "--name", "X"}, exitFailed, `no client "nope"`, ""},
			{"remove-logo", "", []string{"client", "update", "spa", "--logo-uri", ""}, 0, "updated client spa", ""},
			{"audited", "", []string{"audit", "--type", "admin.client.update"}, 0, "client=spa", ""},
		}
		c.runSteps(steps)
		if r := c.run("", "client", "show", "spa"); strings.Contains(r.out, "logo uri") {
			t.Errorf("logo still shown after removal:\n%s", r.out)
		}
	})
}
