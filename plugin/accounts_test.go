package plugin_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/provider/audit"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
	"github.com/latchkeyid/latchkey/provider/user"
)

// startAccounts runs the provider and plugin with TOTP and email, mail
// kept in the outbox until drained.
func startAccounts(t *testing.T, dbURL string, lockout *user.Lockout) *plugintest.Env {
	return plugintest.Start(t, dbURL, plugintest.Options{Methods: []string{"totp", "email"}, Lockout: lockout})
}

// steal copies every cookie victim holds for the provider into a new
// browser: the attacker has the victim's session cookie and nothing else.
func steal(t *testing.T, x *plugintest.Env, victim *pt.Browser) *pt.Browser {
	t.Helper()
	attacker := x.Server.NewBrowser(t)
	u, _ := url.Parse(x.Server.URL)
	var cs []*http.Cookie
	for _, c := range victim.Jar.Cookies(u) {
		cs = append(cs, &http.Cookie{Name: c.Name, Value: c.Value, Path: "/", Secure: true, HttpOnly: true})
	}
	attacker.Jar.SetCookies(u, cs)
	return attacker
}

// addEmail goes from the add page to the code step with the given form
// values and returns the page it lands on.
func addEmail(t *testing.T, x *plugintest.Env, b *pt.Browser, values map[string]string) *pt.Result {
	t.Helper()
	add := mustPage(t, b.Get(x.Server.URL+"/security-info/add/email"), "Email address")
	return b.Submit(add, "form", values)
}

// finishEmail enters the code mailed to addr on the code step.
func finishEmail(t *testing.T, x *plugintest.Env, b *pt.Browser, codePage *pt.Page, addr string) *pt.Page {
	t.Helper()
	return mustPage(t, b.Submit(codePage, "form", map[string]string{"code": x.MailCode(t, addr)}), "Security info")
}

// enrollment is the user's method whose label is label.
func enrollment(t *testing.T, x *plugintest.Env, label string) method.Enrollment {
	t.Helper()
	ms, err := x.Store.List(t.Context(), x.Server.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ms {
		if e.Label == label {
			return e
		}
	}
	t.Fatalf("no method %q among %+v", label, ms)
	return method.Enrollment{}
}

// TestFirstRegistrationAsksPassword: an account that never had a method
// registers its first one only with the account's password typed on the
// add page, so a stolen session cookie alone cannot plant an address
// that resets the password at once. Wrong passwords count toward the
// lockout; the registration is mailed to the account's address; the
// session that registered may add a second method without a cool-down,
// still with the password.
func TestFirstRegistrationAsksPassword(t *testing.T) {
	const evil = "mallory@evil.example"
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAccounts(t, dbURL, &user.Lockout{Threshold: 4, Base: time.Hour, Max: time.Hour})
		ctx := t.Context()
		victim := x.SignIn(t)
		attacker := steal(t, x, victim)

		add := mustPage(t, attacker.Get(x.Server.URL+"/security-info/add/email"), "Email address")
		if add.Doc.Find(`input[name="current_password"][type="password"][autocomplete="current-password"]`).Length() != 1 {
			t.Fatalf("the first registration does not ask for the password:\n%s", add.Body)
		}
		for i, tc := range []struct {
			name, password, want string
		}{
			{"no-password", "", "Enter your current password"},
			{"wrong-password", "a guessed password", "That password is not right"},
			{"wrong-again", "another guess", "That password is not right"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := addEmail(t, x, attacker, map[string]string{"address": evil, "current_password": tc.password})
				page := mustPage(t, res, tc.want)
				if page.Doc.Find(`input[name="code"]`).Length() != 0 {
					t.Fatalf("a code step after %s:\n%s", tc.name, page.Body)
				}
				x.Drain(t)
				if n := len(x.Outbox.To(evil)); n != 0 {
					t.Fatalf("%d mails reached the attacker's address", n)
				}
				if ms, _ := x.Store.List(ctx, x.Server.User.ID); len(ms) != 0 {
					t.Fatalf("methods registered: %+v", ms)
				}
				u, err := x.Server.Users.ByID(ctx, x.Server.User.ID)
				if err != nil {
					t.Fatal(err)
				}
				if u.FailedLogins != i { // the empty password costs nothing; each wrong one counts
					t.Fatalf("failed sign-ins %d, want %d", u.FailedLogins, i)
				}
			})
		}

		t.Run("right-password-registers-and-mails", func(t *testing.T) {
			x.Drain(t)
			x.Outbox.Clear()
			code := mustPage(t, addEmail(t, x, victim, map[string]string{"address": "alice.home@example.net",
				"current_password": pt.Password}), "We sent a code")
			info := finishEmail(t, x, victim, code, "alice.home@example.net")
			if strings.Contains(info.Body, "Usable for recovery from") {
				t.Fatalf("the first method cools down:\n%s", info.Body)
			}
			if e := enrollment(t, x, "a•••e@example.net"); !e.Usable(x.Server.Clock.Now()) {
				t.Fatalf("first method not usable at once: %+v", e)
			}
			x.Drain(t)
			mails := x.Outbox.To(pt.Email)
			if len(mails) != 1 || !strings.Contains(mails[0].Text, "was added to your account") ||
				!strings.Contains(mails[0].Text, "/recover/report/") {
				t.Fatalf("mail to the account's address: %+v", mails)
			}
			u, _ := x.Server.Users.ByID(ctx, x.Server.User.ID)
			if u.FailedLogins != 0 {
				t.Fatalf("the right password did not reset the count (%d)", u.FailedLogins)
			}
		})

		t.Run("same-session-second-method", func(t *testing.T) {
			// The stolen cookie is this very session: it still needs the
			// password for a second method.
			res := addEmail(t, x, attacker, map[string]string{"address": evil})
			mustPage(t, res, "Enter your current password")
			totpAdd := mustPage(t, victim.Get(x.Server.URL+"/security-info/add/totp"), "Add Authenticator app")
			if totpAdd.Doc.Find(`input[name="current_password"]`).Length() != 1 {
				t.Fatalf("the second method of the first session does not ask for the password:\n%s", totpAdd.Body)
			}
			qr := mustPage(t, victim.Submit(totpAdd, "form", map[string]string{"current_password": pt.Password}), "Scan this code")
			c, _ := totp.Code(totpKey(t, qr), x.Server.Clock.Now())
			info := mustPage(t, victim.Submit(qr, "form", map[string]string{"code": c}), "Add sign-in method")
			if strings.Contains(info.Body, "Usable for recovery from") {
				t.Fatalf("the first session's second method cools down:\n%s", info.Body)
			}
		})

		t.Run("wrong-passwords-lock-the-account", func(t *testing.T) {
			for i := range 4 { // the fourth reaches the threshold; repeats of one guess would not count
				addEmail(t, x, attacker, map[string]string{"address": evil, "current_password": fmt.Sprintf("guess number %d", i)})
			}
			page := mustPage(t, addEmail(t, x, attacker, map[string]string{"address": evil, "current_password": pt.Password}),
				"Too many wrong passwords")
			if page.Doc.Find(`input[name="code"]`).Length() != 0 {
				t.Fatal("a locked account registered a method")
			}
			var locked *user.LockedError
			if _, err := x.Server.Users.Authenticate(ctx, pt.Username, pt.Password); !errors.As(err, &locked) {
				t.Fatalf("sign-in after the wrong passwords: %v, want locked", err)
			}
			evs, err := x.Server.Audit.List(ctx, audit.Filter{UserID: x.Server.User.ID, Type: "security-info.password"})
			if err != nil || len(evs) < 5 {
				t.Fatalf("password checks audited: %d, %v", len(evs), err)
			}
		})
	})
}

// TestCoolDownAfterDeletingEveryMethod: an account that ever had a method
// gets the cool-down for a new one, whatever was deleted since: deleting
// every method after a step-up, or in an earlier session, does not make
// the next method "first".
func TestCoolDownAfterDeletingEveryMethod(t *testing.T) {
	tests := []struct {
		name string
		// later: the new method is added in a later, fresh sign-in
		// (no step-up: the page asks for the password).
		later bool
	}{
		{"delete-after-step-up-then-add", false},
		{"delete-then-add-in-a-new-sign-in", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dbtestEach(t, func(t *testing.T, dbURL string) {
				x := startAccounts(t, dbURL, nil)
				secret := x.EnrollTOTP(t)
				b := x.SignIn(t)
				info := x.StepUpTOTP(t, b, secret)
				href, _ := info.Doc.Find(`a.si-delete`).Attr("href")
				confirm := mustPage(t, b.Get(x.Server.URL+href), "Delete this method?")
				mustPage(t, b.Submit(confirm, `form[action="/security-info/remove"]`, nil), "You have not registered any method yet")
				values := map[string]string{"address": "mallory@evil.example"}
				if tc.later {
					b = x.SignIn(t)
					values["current_password"] = pt.Password
				}
				code := mustPage(t, addEmail(t, x, b, values), "We sent a code")
				page := finishEmail(t, x, b, code, "mallory@evil.example")
				if !strings.Contains(page.Body, "Usable for recovery from") {
					t.Fatalf("the new method is not cooling down:\n%s", page.Body)
				}
				if e := enrollment(t, x, "m•••y@evil.example"); e.Usable(x.Server.Clock.Now()) {
					t.Fatalf("the method added after deleting every method is usable at once: %+v", e)
				}
				// Recovery does not offer it: the name gets the same answer
				// as any, and no code reaches the new address.
				r := x.Server.NewBrowser(t)
				methods := x.RecoverStart(t, r, "", pt.Username)
				if strings.Contains(methods.Body, "m•••y@evil.example") {
					t.Fatalf("recovery offers the cooling-down method:\n%s", methods.Body)
				}
			})
		})
	}
}

// reportLink is the "This wasn't me" link of the newest mail to addr.
func reportLink(t *testing.T, x *plugintest.Env, addr string) string {
	t.Helper()
	x.Drain(t)
	mails := x.Outbox.To(addr)
	if len(mails) == 0 {
		t.Fatalf("no mail to %s", addr)
	}
	for _, f := range strings.Fields(mails[len(mails)-1].Text) {
		if strings.Contains(f, "/recover/report/") {
			return f
		}
	}
	t.Fatalf("no report link in the mail to %s:\n%s", addr, mails[len(mails)-1].Text)
	return ""
}

// TestReportRefusesRecovery: "This wasn't me" puts the account in a state
// recovery refuses, even to someone who holds a method, until an
// administrator clears it; it kills every flow (a proven one parked
// before the report) and every session; each address has a link of its
// own, and the audit says which one reported.
func TestReportRefusesRecovery(t *testing.T) {
	const evil = "mallory@evil.example"
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAccounts(t, dbURL, nil)
		ctx := t.Context()
		x.EnrollEmail(t, evil) // planted by the attacker, past its cool-down
		victim := x.SignIn(t)

		// The attacker recovers with his address and is signed in.
		methodsBefore := ""
		recoverBy := func(b *pt.Browser, startURL string) *pt.Page {
			t.Helper()
			methods := x.RecoverStart(t, b, startURL, pt.Username)
			if methodsBefore == "" {
				methodsBefore = methods.Text("form")
			}
			code := mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "m•••y@evil.example")}),
				"We sent a code")
			return b.Submit(code, `form[action$="/verify"]`, map[string]string{"code": x.MailCode(t, evil)}).Page
		}
		rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		a := rp.Start()
		attacker := x.Server.NewBrowser(t)
		pw := recoverBy(attacker, a.URL)
		const attackerPW = "the attacker's own passphrase 7"
		if res := plugintest.ContinueToApp(t, attacker, attacker.Submit(pw, "form", map[string]string{"password": attackerPW, "confirm": attackerPW})); res.Redirect == nil {
			t.Fatalf("the attacker's reset: %s", res)
		}
		// The reset was mailed to both addresses, each with its own link.
		mine, his := reportLink(t, x, pt.Email), reportLink(t, x, evil)
		if mine == his {
			t.Errorf("one report link went to both addresses: %s", mine)
		}
		// The attacker parks a second, proven recovery for later.
		parker := x.Server.NewBrowser(t)
		parked := recoverBy(parker, "")
		if parked == nil || !strings.Contains(parked.Body, "Choose a new password") {
			t.Fatalf("parked recovery not proven: %v", parked)
		}

		path := strings.TrimPrefix(mine, x.Server.URL)
		confirm := mustPage(t, victim.Get(x.Server.URL+path), "Lock my account")
		mustPage(t, victim.Submit(confirm, "form", nil), "Your account is locked")
		evs, err := x.Server.Audit.List(ctx, audit.Filter{UserID: x.Server.User.ID, Type: "report.not-me"})
		if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Detail, "account a•••e@example.com") {
			t.Errorf("report audit %+v %v, want the account's address named", evs, err)
		}

		t.Run("parked-proven-flow-is-dead", func(t *testing.T) {
			res := parker.Submit(parked, "form", map[string]string{"password": newPW, "confirm": newPW})
			if res.Redirect != nil || res.Page.Status != http.StatusForbidden || !strings.Contains(res.Page.Body, "contact your helpdesk") {
				t.Fatalf("the parked recovery went on: %s", res)
			}
			if _, err := x.Server.Users.Authenticate(ctx, pt.Username, newPW); err == nil {
				t.Fatal("the parked recovery set the password")
			}
		})
		t.Run("sessions-are-dead", func(t *testing.T) {
			for name, b := range map[string]*pt.Browser{"attacker": attacker, "victim": victim} {
				if p := b.Get(x.Server.URL + "/security-info").Page; p == nil || !strings.Contains(p.Body, "Sign in") {
					t.Fatalf("the %s's session survived the report: %v", name, p)
				}
			}
		})
		t.Run("before-a-proof-nothing-differs", func(t *testing.T) {
			// A stranger who holds no method sees what he saw before the
			// report: the same start, the same list, the same wrong-code page.
			b := x.Server.NewBrowser(t)
			methods := x.RecoverStart(t, b, "", pt.Username)
			if got := methods.Text("form"); got != methodsBefore {
				t.Fatalf("the method page changed with the report:\n%s\nwas\n%s", got, methodsBefore)
			}
			code := mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "m•••y@evil.example")}),
				"We sent a code")
			mustPage(t, b.Submit(code, `form[action$="/verify"]`, map[string]string{"code": "00000000"}), "is not right")
			x.MailCode(t, evil) // the code went out as for any account
		})
		t.Run("recovery-by-the-attackers-method-is-refused", func(t *testing.T) {
			again := x.Server.NewBrowser(t)
			page := recoverBy(again, "")
			if page == nil || page.Status != http.StatusForbidden || !strings.Contains(page.Body, "contact your helpdesk") ||
				strings.Contains(page.Body, "Choose a new password") {
				t.Fatalf("recovery of a reported account: %v", page)
			}
			if _, err := x.Server.Users.Authenticate(ctx, pt.Username, attackerPW); err == nil {
				t.Fatal("the reported account still signs in")
			}
		})
		t.Run("his-link-is-his-own", func(t *testing.T) {
			b := x.Server.NewBrowser(t)
			p := strings.TrimPrefix(his, x.Server.URL)
			mustPage(t, b.Submit(mustPage(t, b.Get(x.Server.URL+p), "Lock my account"), "form", nil), "Your account is locked")
			evs, err := x.Server.Audit.List(ctx, audit.Filter{UserID: x.Server.User.ID, Type: "report.not-me"})
			if err != nil || len(evs) != 2 || !strings.Contains(evs[0].Detail, "m•••y@evil.example") || strings.Contains(evs[0].Detail, "account ") {
				t.Fatalf("report audit %+v %v, want the method's address named", evs, err)
			}
			if st := victim.Do(http.MethodGet, x.Server.URL+path, nil).StatusCode; st != http.StatusNotFound {
				t.Fatalf("the used link answered %d", st)
			}
		})
		t.Run("clear-report-reenables-recovery", func(t *testing.T) {
			if rep, _, err := plugin.Reported(ctx, x.Server.DB, x.Server.User.ID); err != nil || !rep {
				t.Fatalf("reported = %v, %v", rep, err)
			}
			if ok, err := plugin.ClearReport(ctx, x.Server.DB, x.Server.User.ID); err != nil || !ok {
				t.Fatalf("clear report: %v %v", ok, err)
			}
			b := x.Server.NewBrowser(t)
			pw := recoverBy(b, "")
			if pw == nil || !strings.Contains(pw.Body, "Choose a new password") {
				t.Fatalf("recovery after clear-report: %v", pw)
			}
			mustPage(t, b.Submit(pw, "form", map[string]string{"password": newPW, "confirm": newPW}), "")
			if _, err := x.Server.Users.Authenticate(ctx, pt.Username, newPW); err != nil {
				t.Fatalf("the recovered password does not sign in: %v", err)
			}
		})
	})
}
