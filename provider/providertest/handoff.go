package providertest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latchkeyid/latchkey/provider/audit"
)

// Handoff is an authorization request one browser started at an app, with
// the genuine sign-in link the provider sent it to: what an attacker
// forwards to a victim, or what a test hands to a second cookie jar.
type Handoff struct {
	Auth     *AuthRequest
	ID       string // the auth request id
	LoginURL string // absolute /login?authRequestID=ID
}

// Authorize has b call the RP's authorization URL and stops at the
// provider's redirect to the sign-in page without opening it (the starter
// need never visit the link it forwards).
func (b *Browser) Authorize(rp *RP, params ...oauth2.AuthCodeOption) *Handoff {
	b.t.Helper()
	a := rp.Start(params...)
	res := b.Do(http.MethodGet, a.URL, nil)
	_ = res.Body.Close()
	loc, err := res.Request.URL.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther || err != nil {
		b.t.Fatalf("authorize answered %d %q, want a redirect to the sign-in page", res.StatusCode, res.Header.Get("Location"))
	}
	id := loc.Query().Get("authRequestID")
	if !b.srv.Owns(loc) || loc.Path != "/login" || id == "" {
		b.t.Fatalf("authorize redirected to %s, want /login?authRequestID=", loc)
	}
	return &Handoff{Auth: a, ID: id, LoginURL: loc.String()}
}

// CallbackURL is the provider's /authorize/callback for auth request id:
// where a browser collects the code once the request is completed.
func (s *Server) CallbackURL(id string) string {
	return s.URL + "/authorize/callback?id=" + url.QueryEscape(id)
}

// CodeOf is the authorization code r hands to an app, "" when none.
func CodeOf(r *Result) string {
	if r == nil || r.Redirect == nil {
		return ""
	}
	return r.Redirect.Query().Get("code")
}

// ClearCookie drops the named cookie from b's jar, as a person clearing
// their cookies (or a private window) would.
func (b *Browser) ClearCookie(name string) {
	u, _ := url.Parse(b.srv.URL)
	b.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: "", Path: "/", MaxAge: -1}}) // #nosec G124 -- a test browser deleting its own cookie
}

// AuditEvents are the audit events of type typ, newest first.
func (s *Server) AuditEvents(t testing.TB, typ string) []audit.Event {
	t.Helper()
	evs, err := s.Audit.List(t.Context(), audit.Filter{Type: typ, Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// HasText reports whether r ended on a page whose visible text contains
// text (whitespace collapsed).
func HasText(r *Result, text string) bool {
	return r != nil && r.Page != nil && strings.Contains(r.Page.Text("body"), text)
}
