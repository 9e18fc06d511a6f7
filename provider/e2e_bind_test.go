package provider_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
	"github.com/latchkeyid/latchkey/provider/session"
)

const (
	recoveryAddr = "alice.home@example.net"
	resetPW      = "violet submarine orchestra 8812"
)

// completion is one way a browser can get an authorization request
// completed: it acts in browser b on the request h and returns where b
// ended. The same steps run in the browser that started the request
// (which must get a code) and in a victim's browser that was handed the
// link (which must not, and neither may the starter afterwards).
type completion struct {
	name   string
	params []oauth2.AuthCodeOption
	// policy settings applied first (the plugin's key=value form).
	policy []string
	// signedIn gives the completing browser an SSO session first.
	signedIn bool
	// viaLogin: the steps open the sign-in link, which the victim's
	// browser must be refused at once (and the request burnt, so the
	// starter's callback gets the plain page too).
	viaLogin bool
	// knowsUser: the audit row of the refused attempt names the user.
	knowsUser bool
	run       func(t *testing.T, x *plugintest.Env, b *pt.Browser, h *pt.Handoff) *pt.Result
}

// passwordAt opens the sign-in link and, when the form is there, signs in.
func passwordAt(t *testing.T, b *pt.Browser, h *pt.Handoff) *pt.Result {
	t.Helper()
	res := b.Get(h.LoginURL)
	if res.Page != nil && res.Page.Doc.Find(`form[action="/login"] input[name="password"]`).Length() == 1 {
		res = b.SignIn(res.Page, pt.Username, pt.Password)
	}
	return res
}

// recoverAt resets the password by email for h's request: from the
// sign-in link's "Can't access your account?" when the page offers it,
// else from /recover?authRequestID= (a link the attacker can send too).
func recoverAt(t *testing.T, x *plugintest.Env, b *pt.Browser, h *pt.Handoff, openLogin bool) *pt.Result {
	t.Helper()
	// Each recovery here mails alice and starts from this one address:
	// step past the send and CAPTCHA windows of the recoveries before it.
	x.Server.Clock.Advance(11 * time.Minute)
	var start *pt.Page
	if openLogin {
		res := b.Get(h.LoginURL)
		if href, ok := res.Page.Doc.Find(`a:contains("Can't access your account?")`).Attr("href"); ok {
			ref, _ := url.Parse(href)
			start = plugintest.MustPage(t, b.Get(res.Page.URL.ResolveReference(ref).String()), "Get back into your account")
		} else {
			return res
		}
	} else {
		start = plugintest.MustPage(t, b.Get(x.Server.URL+"/recover?authRequestID="+url.QueryEscape(h.ID)), "Get back into your account")
	}
	methods := x.Recover(t, b, start, pt.Username)
	verify := plugintest.MustPage(t, b.Submit(methods, "form", map[string]string{
		"enrollment": plugintest.OptionFor(t, methods, "a•••e@example.net")}), "We sent a code")
	pw := plugintest.MustPage(t, b.Submit(verify, `form[action$="/verify"]`, map[string]string{"code": x.MailCode(t, recoveryAddr)}),
		"Choose a new password")
	res := plugintest.ContinueToApp(t, b, b.Submit(pw, "form", map[string]string{"password": resetPW, "confirm": resetPW}))
	// The next completion signs in with the usual password again, once
	// this one's code is redeemed (a password change revokes every sign-in
	// before it, this one's included).
	t.Cleanup(func() {
		if err := x.Server.Users.SetPassword(context.Background(), x.Server.User.ID, pt.Password); err != nil {
			t.Error(err)
		}
	})
	return res
}

func completions() []completion {
	return []completion{
		{name: "password-sign-in", viaLogin: true, run: func(t *testing.T, _ *plugintest.Env, b *pt.Browser, h *pt.Handoff) *pt.Result {
			return passwordAt(t, b, h)
		}},
		{name: "password-post", knowsUser: true, run: func(t *testing.T, x *plugintest.Env, b *pt.Browser, h *pt.Handoff) *pt.Result {
			// The sign-in form of this browser, posted with the request
			// id of h: the POST is checked on its own, not only the page.
			page := plugintest.MustPage(t, b.Get(x.Server.URL+"/login"), "Sign in")
			return b.Submit(page, `form[action="/login"]`, map[string]string{
				"authRequestID": h.ID, "username": pt.Username, "password": pt.Password})
		}},
		{name: "single-sign-on", signedIn: true, viaLogin: true, knowsUser: true, run: func(t *testing.T, _ *plugintest.Env, b *pt.Browser, h *pt.Handoff) *pt.Result {
			return b.Get(h.LoginURL)
		}},
		{name: "prompt-none", params: []oauth2.AuthCodeOption{pt.Param("prompt", "none")}, signedIn: true, viaLogin: true, knowsUser: true,
			run: func(t *testing.T, _ *plugintest.Env, b *pt.Browser, h *pt.Handoff) *pt.Result {
				return b.Get(h.LoginURL)
			}},
		{name: "forced-registration", policy: []string{"register_at_signin=true", "max_skips=50"}, viaLogin: true,
			run: func(t *testing.T, _ *plugintest.Env, b *pt.Browser, h *pt.Handoff) *pt.Result {
				res := passwordAt(t, b, h)
				if res.Page != nil && strings.Contains(res.Page.Body, "Keep your account secure") {
					res = b.Submit(res.Page, `form[action$="/skip"]`, nil)
				}
				return res
			}},
		{name: "recovery-from-sign-in-page", policy: []string{"register_at_signin=false"}, viaLogin: true,
			run: func(t *testing.T, x *plugintest.Env, b *pt.Browser, h *pt.Handoff) *pt.Result {
				return recoverAt(t, x, b, h, true)
			}},
		{name: "recovery-link", policy: []string{"register_at_signin=false"}, knowsUser: true,
			run: func(t *testing.T, x *plugintest.Env, b *pt.Browser, h *pt.Handoff) *pt.Result {
				return recoverAt(t, x, b, h, false)
			}},
	}
}

// TestAuthRequestBoundToBrowser: a request completes, and yields a code,
// only in the browser that called /authorize. The attack: Mallory starts a
// sign-in at the app, forwards the genuine sign-in link to Alice, Alice
// signs in there (password, SSO session, prompt=none, forced registration,
// recovery), and Mallory collects the code at /authorize/callback with his
// own PKCE verifier.
func TestAuthRequestBoundToBrowser(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		x := plugintest.Start(t, dbURL, plugintest.Options{Methods: []string{"email"}})
		s := x.Server
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		signInFirst := func(t *testing.T, b *pt.Browser) {
			t.Helper()
			a := rp.Start()
			res := b.Get(a.URL)
			if res.Page != nil {
				res = b.SignIn(res.Page, pt.Username, pt.Password)
			}
			if pt.CodeOf(res) == "" {
				t.Fatalf("sign-in before the test: %s", res)
			}
		}
		enrolled := false
		for _, tt := range completions() {
			t.Run(tt.name, func(t *testing.T) {
				x.SetPolicy(t, append([]string{"register_at_signin=false"}, tt.policy...)...)
				if strings.HasPrefix(tt.name, "recovery") && !enrolled {
					x.EnrollEmail(t, recoveryAddr)
					enrolled = true
				}
				t.Run("own-browser-completes", func(t *testing.T) {
					b := s.NewBrowser(t)
					if tt.signedIn {
						signInFirst(t, b)
					}
					h := b.Authorize(rp, tt.params...)
					res := tt.run(t, x, b, h)
					code := pt.CodeOf(res)
					if code == "" {
						t.Fatalf("the starting browser got no code: %s", res)
					}
					tok, err := rp.Exchange(t.Context(), h.Auth, code)
					if err != nil || tok.IDToken.Subject != s.User.ID {
						t.Fatalf("exchange in the starting browser: %v", err)
					}
				})
				t.Run("other-browser-gets-no-code", func(t *testing.T) {
					mallory, alice := s.NewBrowser(t), s.NewBrowser(t)
					if tt.signedIn {
						signInFirst(t, alice)
					}
					// Alice's browser does not reach the callback (as when she
					// is sent to register first), so Mallory is not racing it.
					alice.Stop = func(u *url.URL) bool { return u.Path == "/authorize/callback" }
					before := len(s.AuditEvents(t, provider.AuditOtherBrowser))
					h := mallory.Authorize(rp, tt.params...)
					res := tt.run(t, x, alice, h)
					if code := pt.CodeOf(res); code != "" {
						t.Errorf("the victim's browser was handed a code for another browser's request")
					}
					if tt.viaLogin && !pt.HasText(res, provider.OtherBrowserMessage) {
						t.Errorf("victim's browser: want the plain page %q, got %s", provider.OtherBrowserMessage, res)
					}
					cb := mallory.Get(s.CallbackURL(h.ID))
					if code := pt.CodeOf(cb); code != "" {
						if tok, err := rp.Exchange(t.Context(), h.Auth, code); err == nil {
							t.Fatalf("the attacker redeemed the victim's sign-in: sub %s", tok.IDToken.Subject)
						}
						t.Fatal("the attacker's browser was handed a code")
					}
					if tt.viaLogin && !pt.HasText(cb, provider.OtherBrowserMessage) {
						t.Errorf("attacker's callback: want the plain page, got %s", cb)
					}
					evs := s.AuditEvents(t, provider.AuditOtherBrowser)
					if len(evs) <= before {
						t.Fatal("the attempt from another browser was not audited")
					}
					victim := evs[len(evs)-before-1] // the first new one: the victim's attempt
					if victim.IP == "" || victim.Outcome != audit.Blocked || !strings.Contains(victim.Detail, h.ID) {
						t.Errorf("audit row %+v", victim)
					}
					if tt.knowsUser && victim.UserID != s.User.ID {
						t.Errorf("audit row names user %q, want %q", victim.UserID, s.User.ID)
					}
				})
			})
		}
	})
}

// TestAuthRequestWithoutBindingFailsClosed: a request whose binding cookie
// is gone, or whose binding row was never written, completes nowhere; a
// request id leaked to another browser after a sign-in yields no code
// there.
func TestAuthRequestWithoutBindingFailsClosed(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		t.Run("binding-cookie-cleared", func(t *testing.T) {
			b := s.NewBrowser(t)
			h := b.Authorize(rp)
			if b.Cookie("__Host-lk_bind") == nil {
				t.Fatal("/authorize set no binding cookie")
			}
			b.ClearCookie("__Host-lk_bind")
			if res := b.Get(h.LoginURL); !pt.HasText(res, provider.OtherBrowserMessage) {
				t.Fatalf("sign-in page without the binding cookie: %s", res)
			}
			if res := b.Get(s.CallbackURL(h.ID)); pt.CodeOf(res) != "" {
				t.Fatal("callback without the binding cookie handed out a code")
			}
		})
		t.Run("binding-row-missing", func(t *testing.T) {
			b := s.NewBrowser(t)
			h := b.Authorize(rp)
			if err := s.DB.Where("auth_request_id = ?", h.ID).Delete(&session.Binding{}).Error; err != nil {
				t.Fatal(err)
			}
			res := b.Get(h.LoginURL)
			if !pt.HasText(res, provider.OtherBrowserMessage) {
				t.Fatalf("sign-in page without a binding row: %s", res)
			}
			csrf := b.Get(s.URL + "/login").Page
			res = b.Submit(csrf, `form[action="/login"]`, map[string]string{"authRequestID": h.ID, "username": pt.Username, "password": pt.Password})
			if pt.CodeOf(res) != "" || !pt.HasText(res, provider.OtherBrowserMessage) {
				t.Fatalf("password sign-in without a binding row: %s", res)
			}
		})
		t.Run("leaked-id-at-callback", func(t *testing.T) {
			alice, mallory := s.NewBrowser(t), s.NewBrowser(t)
			h := alice.Authorize(rp)
			login := alice.Get(h.LoginURL).Page
			// Alice signs in; before her browser follows the redirect to the
			// callback, Mallory calls it with the id.
			form := url.Values{"csrf": {login.Doc.Find(`input[name="csrf"]`).AttrOr("value", "")},
				"authRequestID": {h.ID}, "username": {pt.Username}, "password": {pt.Password}}
			res := alice.Do(http.MethodPost, s.URL+"/login", form)
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "/authorize/callback") {
				t.Fatalf("sign-in answered %d %s", res.StatusCode, res.Header.Get("Location"))
			}
			before := len(s.AuditEvents(t, provider.AuditOtherBrowser))
			cb := mallory.Get(s.CallbackURL(h.ID))
			if pt.CodeOf(cb) != "" || !pt.HasText(cb, provider.OtherBrowserMessage) {
				t.Fatalf("callback in another browser: %s", cb)
			}
			if len(s.AuditEvents(t, provider.AuditOtherBrowser)) != before+1 {
				t.Fatal("callback from another browser not audited")
			}
		})
	})
}

// TestForcedRegistrationCannotBeSkipped: a user sent to register methods
// at sign-in gets the code only after registering or skipping (where the
// policy allows): not by going to the callback, nor back to the sign-in
// link with the new session.
func TestForcedRegistrationCannotBeSkipped(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		x := plugintest.Start(t, dbURL, plugintest.Options{Methods: []string{"email"}, RegisterAtSignIn: true})
		s := x.Server
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		for _, tt := range []struct {
			name    string
			skips   string
			canSkip bool
		}{
			{"skip-allowed", "max_skips=5", true},
			{"no-skips", "max_skips=0", false},
		} {
			t.Run(tt.name, func(t *testing.T) {
				x.SetPolicy(t, tt.skips)
				b := s.NewBrowser(t)
				h := b.Authorize(rp)
				reg := plugintest.MustPage(t, passwordAt(t, b, h), "Keep your account secure")
				if res := b.Get(s.CallbackURL(h.ID)); pt.CodeOf(res) != "" {
					t.Fatalf("the callback handed out a code before registration: %s", res)
				}
				if res := b.Get(h.LoginURL); pt.CodeOf(res) != "" {
					t.Fatalf("the sign-in link answered from the new session before registration: %s", res)
				}
				// Starting again at the app: the session meets the
				// registration again instead of a silent sign-on.
				h2 := b.Authorize(rp)
				reg2 := b.Get(h2.LoginURL)
				if pt.CodeOf(reg2) != "" || !pt.HasText(reg2, "Keep your account secure") {
					t.Fatalf("a new request answered from the session sent to register: %s", reg2)
				}
				if res := b.Get(s.CallbackURL(h2.ID)); pt.CodeOf(res) != "" {
					t.Fatalf("the new request's callback handed out a code before registration: %s", res)
				}
				if res := b.Get(b.Authorize(rp, pt.Param("prompt", "none")).LoginURL); pt.CodeOf(res) != "" ||
					res.Redirect == nil || res.Redirect.Query().Get("error") != "interaction_required" {
					t.Fatalf("prompt=none from the session sent to register: %s", res)
				}
				skip := reg.Doc.Find(`form[action$="/skip"]`).Length() == 1
				if skip != tt.canSkip {
					t.Fatalf("skip offered %v, want %v", skip, tt.canSkip)
				}
				if !tt.canSkip {
					return
				}
				res := b.Submit(reg, `form[action$="/skip"]`, nil)
				if _, err := rp.Exchange(t.Context(), h.Auth, rp.Callback(h.Auth, res).Get("code")); err != nil {
					t.Fatalf("after skipping: %v", err)
				}
				// Skipped once for the session: the other request it held
				// continues from its own registration page, and a new one
				// completes by single sign-on.
				res = b.Submit(reg2.Page, `form[action$="/skip"]`, nil)
				if _, err := rp.Exchange(t.Context(), h2.Auth, rp.Callback(h2.Auth, res).Get("code")); err != nil {
					t.Fatalf("the second held request after skipping: %v", err)
				}
				h3 := b.Authorize(rp)
				if _, err := rp.Exchange(t.Context(), h3.Auth, rp.Callback(h3.Auth, b.Get(h3.LoginURL)).Get("code")); err != nil {
					t.Fatalf("single sign-on after skipping: %v", err)
				}
			})
		}
	})
}

// TestCSRFTokenRotatesAtSignIn: the CSRF token a browser had before it
// signed in (seen by whoever saw the signed-out page) no longer works.
func TestCSRFTokenRotatesAtSignIn(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		b := s.NewBrowser(t)
		login := b.Get(s.URL + "/login").Page
		old := login.Doc.Find(`input[name="csrf"]`).AttrOr("value", "")
		if old == "" {
			t.Fatal("no CSRF token on the sign-in page")
		}
		res := b.Do(http.MethodPost, s.URL+"/login", url.Values{"csrf": {old}, "username": {pt.Username}, "password": {pt.Password}})
		res.Body.Close()
		n := 0
		for _, v := range res.Header.Values("Set-Cookie") {
			if strings.HasPrefix(v, "__Host-csrf=") {
				n++
				if !strings.Contains(v, "HttpOnly") || !strings.Contains(v, "SameSite=Lax") || !strings.Contains(v, "Secure") {
					t.Errorf("rotated CSRF cookie %q", v)
				}
			}
		}
		if res.StatusCode != http.StatusSeeOther || n != 1 {
			t.Fatalf("sign-in answered %d with %d CSRF cookies, want 303 with one", res.StatusCode, n)
		}
		if ck := b.Cookie("__Host-csrf"); ck == nil || ck.Value == old {
			t.Fatalf("CSRF cookie not rotated at sign-in: %+v", ck)
		}
		out := b.Navigate(http.MethodPost, s.URL+"/logout", url.Values{"csrf": {old}})
		if out.Page == nil || out.Page.Status != http.StatusForbidden {
			t.Fatalf("the pre-sign-in token still works: %s", out)
		}
		account := b.Get(s.URL + "/").Page
		fresh := account.Doc.Find(`input[name="csrf"]`).AttrOr("value", "")
		if fresh == "" || fresh == old {
			t.Fatalf("account page token %q (old %q)", fresh, old)
		}
		if res := b.Navigate(http.MethodPost, s.URL+"/logout", url.Values{"csrf": {fresh}}); res.Page == nil || res.Page.Status != http.StatusOK {
			t.Fatalf("the new token does not work: %s", res)
		}
	})
}
