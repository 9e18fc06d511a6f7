package plugin_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/provider/audit"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/user"
)

// TestEndToEndForcedRegistration: a user without methods signs in, is
// sent to register, adds an email (proven by a code), and returns to the
// app; the skip button runs out after max_skips.
func TestEndToEndForcedRegistration(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startE2E(t, dbURL)
		x.SetPolicy(t, "max_skips=1")
		rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)

		signIn := func() (*pt.Browser, *pt.AuthRequest, *pt.Result) {
			b := x.Server.NewBrowser(t)
			a := rp.Start()
			login := mustPage(t, b.Get(a.URL), "Sign in")
			return b, a, b.SignIn(login, pt.Username, pt.Password)
		}
		t.Run("skip-once", func(t *testing.T) {
			b, a, res := signIn()
			reg := mustPage(t, res, "Keep your account secure")
			done := b.Submit(reg, `form[action$="/skip"]`, nil)
			if done.Redirect == nil {
				t.Fatalf("skip did not return to the app: %s", done)
			}
			if _, err := rp.Exchange(t.Context(), a, rp.Callback(a, done).Get("code")); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("no-skips-left-register", func(t *testing.T) {
			b, a, res := signIn()
			reg := mustPage(t, res, "Keep your account secure")
			if strings.Contains(reg.Body, "Skip for now") {
				t.Fatal("skip offered after max_skips")
			}
			href, _ := reg.Doc.Find(`a[href*="/security-info/add/email"]`).Attr("href")
			add := mustPage(t, b.Get(reg.URL.ResolveReference(mustURL(href)).String()), "Email address")
			codePage := mustPage(t, b.Submit(add, "form", map[string]string{"address": "alice.backup@example.net",
				"current_password": pt.Password}), "We sent a code")
			back := mustPage(t, b.Submit(codePage, "form", map[string]string{"code": x.MailCode(t, "alice.backup@example.net")}),
				"count for recovery: 1 of 1")
			done := b.Submit(back, `form[action$="/continue"]`, nil)
			if done.Redirect == nil {
				t.Fatalf("continue did not return to the app: %s", done)
			}
			if _, err := rp.Exchange(t.Context(), a, rp.Callback(a, done).Get("code")); err != nil {
				t.Fatal(err)
			}
			ms, _ := x.Store.List(t.Context(), x.Server.User.ID)
			if len(ms) != 1 || ms[0].Label != "a•••p@example.net" {
				t.Fatalf("methods %+v", ms)
			}
			// Next sign-in: enough methods, straight to the app.
			_, _, res = signIn()
			if res.Redirect == nil {
				t.Fatalf("registered user sent to %s", res)
			}
		})
	})
}

// TestEndToEndStepUp: once a user has methods, /security-info needs a
// fresh verification; adds and deletes are audited and mailed.
func TestEndToEndStepUp(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startE2E(t, dbURL)
		x.EnrollEmail(t, "alice.home@example.net")
		x.SetPolicy(t, "register_at_signin=false")
		rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := x.Server.NewBrowser(t)
		a := rp.Start()
		if res := b.SignIn(mustPage(t, b.Get(a.URL), "Sign in"), pt.Username, pt.Password); res.Redirect == nil {
			t.Fatalf("sign-in: %s", res)
		}
		info := mustPage(t, b.Get(x.Server.URL+"/security-info"), "Before you view or change your security info")
		if strings.Contains(info.Body, "a•••e@example.net</li>") || strings.Contains(info.Body, "Delete") {
			t.Fatal("methods shown before step-up")
		}
		// Adding without step-up is refused too; after the step-up the
		// browser lands on the page it asked for, not on the list.
		info = mustPage(t, b.Get(x.Server.URL+"/security-info/add/totp"), "Before you view or change your security info")
		code := mustPage(t, b.Submit(info, "form", map[string]string{"enrollment": optionFor(t, info, "a•••e@example.net")}), "We sent a code")
		wrong := mustPage(t, b.Submit(code, "form", map[string]string{"code": "00000000"}), "is not right")
		if strings.Contains(wrong.Body, "That did not work") {
			t.Error("the wrong code is answered with the bare \"That did not work\"")
		}
		add := mustPage(t, b.Submit(wrong, "form", map[string]string{"code": x.MailCode(t, "alice.home@example.net")}), "Add Authenticator app")
		qr := mustPage(t, b.Submit(add, "form", nil), "Scan this code")
		secret := totpKey(t, qr)
		c, _ := totp.Code(secret, x.Server.Clock.Now())
		list := mustPage(t, b.Submit(qr, "form", map[string]string{"code": c}), "Method added.")
		ms, _ := x.Store.List(t.Context(), x.Server.User.ID)
		if len(ms) != 2 || !ms[1].UsableAt.After(x.Server.Clock.Now().Add(23*time.Hour)) {
			t.Fatalf("second method without the cool-down: %+v", ms)
		}
		msg := x.WaitMail(t, "alice.home@example.net", "was added")
		if strings.Contains(msg, secret) {
			t.Fatal("mail leaks the TOTP secret")
		}
		if n := strings.Count(list.Text("ul.si-rows"), "added "+x.Server.Clock.Now().UTC().Format("2 January 2006")); n != 2 {
			t.Errorf("%d rows say when they were added:\n%s", n, list.Text("ul.si-rows"))
		}
		if !strings.Contains(list.Text("ul.si-rows"), "Usable for recovery from") {
			t.Errorf("the new app's cool-down is not shown as a time:\n%s", list.Text("ul.si-rows"))
		}
		// Delete asks first; Cancel keeps the method.
		href, _ := list.Doc.Find(`a.si-delete`).First().Attr("href")
		confirm := mustPage(t, b.Get(x.Server.URL+href), "Delete this method?")
		if ms, _ := x.Store.List(t.Context(), x.Server.User.ID); len(ms) != 2 {
			t.Fatalf("opening the confirmation deleted a method: %+v", ms)
		}
		list = mustPage(t, b.Submit(confirm, `form[action="/security-info/remove"]`, nil), "Method deleted.")
		x.WaitMail(t, "alice.home@example.net", "was removed")
		evs, _ := x.Server.Audit.List(t.Context(), audit.Filter{UserID: x.Server.User.ID})
		seen := map[string]string{}
		for _, ev := range evs {
			seen[ev.Type+"/"+ev.Outcome] = ev.IP
		}
		for _, k := range []string{"stepup/ok", "stepup/fail", "method.added/ok", "method.removed/ok"} {
			if seen[k] == "" {
				t.Errorf("no audit %s with an IP (have %v)", k, seen)
			}
		}
		// Ten minutes later the step-up has expired.
		x.Server.Clock.Advance(11 * time.Minute)
		mustPage(t, b.Get(x.Server.URL+"/security-info"), "Before you view or change your security info")
	})
}

// TestEndToEndUnlock: locked out by wrong passwords at the sign-in page,
// the user follows "unlock it now", proves a method, and signs in with
// the unchanged password to finish the app's request.
func TestEndToEndUnlock(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startE2E(t, dbURL, user.Lockout{Threshold: 3, Base: time.Hour, Max: time.Hour})
		x.EnrollEmail(t, "alice.home@example.net")
		x.SetPolicy(t, "register_at_signin=false")
		rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := x.Server.NewBrowser(t)
		a := rp.Start()
		page := mustPage(t, b.Get(a.URL), "Sign in")
		for i := range 4 { // distinct guesses: repeating one is not counted
			page = mustPage(t, b.SignIn(page, pt.Username, "wrong password "+string(rune('a'+i))), "")
		}
		var locked *user.LockedError
		if _, err := x.Server.Users.Authenticate(t.Context(), pt.Username, pt.Password); !errors.As(err, &locked) {
			t.Fatalf("account not locked: %v", err)
		}
		// The page may show the lockout ("unlock it now") or only the
		// generic error; both lead to /recover.
		href, ok := page.Doc.Find(`a:contains("unlock it now")`).Attr("href")
		if !ok {
			href, _ = page.Doc.Find(`a:contains("Can't access your account?")`).Attr("href")
		}
		start := mustPage(t, b.Get(page.URL.ResolveReference(mustURL(href)).String()), "Get back into your account")
		choice := mustPage(t, b.Submit(start, `form[action="/recover"]`, map[string]string{"username": pt.Username, "captcha": x.Solve(start)}),
			"still can't sign in")
		methods := mustPage(t, b.Submit(choice, "form", map[string]string{"intent": "unlock"}), "Verify it's you")
		verify := mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "a•••e@example.net")}), "We sent a code")
		done := mustPage(t, b.Submit(verify, `form[action$="/verify"]`, map[string]string{"code": x.MailCode(t, "alice.home@example.net")}),
			"Your account is unlocked")
		href, _ = done.Doc.Find(`a:contains("Sign in")`).Attr("href")
		login := mustPage(t, b.Get(done.URL.ResolveReference(mustURL(href)).String()), "Sign in")
		res := b.SignIn(login, pt.Username, pt.Password)
		if res.Redirect == nil {
			t.Fatalf("sign-in with the unchanged password after unlock: %s", res)
		}
		if _, err := rp.Exchange(t.Context(), a, rp.Callback(a, res).Get("code")); err != nil {
			t.Fatal(err)
		}
		x.WaitMail(t, pt.Email, "unlocked")
	})
}

// totpKey reads the authenticator key from the add page, checks it is
// shown in groups of four with a copy button holding it unbroken, and
// returns it without spaces.
func totpKey(t *testing.T, p *pt.Page) string {
	t.Helper()
	shown := p.Text("#totp-key")
	key := strings.ReplaceAll(shown, " ", "")
	for i, g := range strings.Fields(shown) {
		if len(g) != 4 && i != len(strings.Fields(shown))-1 {
			t.Errorf("key %q is not in groups of four", shown)
		}
	}
	if cp, _ := p.Doc.Find("button[data-copy]").Attr("data-copy"); cp != key || key == "" {
		t.Errorf("copy button holds %q, the key is %q", cp, key)
	}
	return key
}
