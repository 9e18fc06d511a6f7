package plugin_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/user"
)

// TestResetWithEmailCode: the whole reset through HTTP, ending in the
// pending request being completed for this browser.
func TestResetWithEmailCode(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		u := e.user("alice", false)
		e.enrollEmail(u, "alice.private@example.org")
		other, otherTok, err := e.sessions.Create(ctx, nil, u.ID, []string{"pwd"}, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		e.users.Lock(ctx, u.ID, e.clock.Now().Add(time.Hour)) // locked accounts can still recover (E39)

		b := e.browser()
		fp := b.start("ALICE", boundRequest)
		b.post(fp, url.Values{"intent": {"reset"}})
		b.must(200, "a•••e@example.org")
		b.choose(fp, "a•••e@example.org")
		b.must(200, "We sent a code by email to a•••e@example.org")
		if b.e.srv == nil || !strings.Contains(b.last, `autocomplete="one-time-code"`) {
			t.Fatal("code field without one-time-code autocomplete")
		}
		e.drain()
		code := e.out.Code("alice.private@example.org")
		if len(code) != 8 {
			t.Fatalf("no 8-digit code mailed: %q", code)
		}
		b.post(fp+"/verify", url.Values{"code": {code}})
		b.must(200, "Choose a new password")
		for _, want := range []string{`autocomplete="new-password"`, `id="show-password"`, "<meter"} {
			if !strings.Contains(b.last, want) {
				t.Errorf("password page lacks %s", want)
			}
		}
		// The reset ends on a confirmation that continues to the app.
		b.post(fp+"/password", url.Values{"password": {newPW}, "confirm": {newPW}})
		b.must(200, "Your password was changed")
		if got := b.href(`a.button:contains("Continue to")`); got != "http://rp.invalid/cb?code=issued" {
			t.Fatalf("after reset, Continue goes to %q", got)
		}
		if strings.Contains(b.last, "rp.invalid") && b.loc != "" {
			t.Errorf("the confirmation was a redirect to %q", b.loc)
		}
		if got := e.signIn.done; len(got) != 1 || got[0].AuthRequestID != boundRequest || strings.Join(got[0].AMR, ",") != "otp" {
			t.Fatalf("completion %+v, want amr [otp] for %s", got, boundRequest)
		}
		if _, err := e.users.Authenticate(ctx, "alice", "old violet kettle alice"); err == nil {
			t.Error("old password still works")
		}
		if _, err := e.users.Authenticate(ctx, "alice", newPW); err != nil {
			t.Errorf("new password: %v (the reset must also clear the lockout)", err)
		}
		if _, err := e.sessions.Lookup(ctx, otherTok); err == nil {
			t.Errorf("session %s of another browser survived the reset", other.ID)
		}
		// Set-password succeeds once per flow (C25).
		b.post(fp+"/password", url.Values{"password": {"another fine passphrase"}, "confirm": {"another fine passphrase"}})
		b.must(403, "cannot continue")

		e.drain()
		mails := e.out.To("alice@example.com")
		if len(mails) != 1 || !strings.Contains(mails[0].Text, "/recover/report/") || !strings.Contains(mails[0].Text, "was reset") {
			t.Fatalf("notification to the account address: %+v", mails)
		}
		if got := e.out.To("alice.private@example.org"); len(got) != 2 || !strings.Contains(got[1].Text, "was reset") {
			t.Errorf("the registered email method was not notified: %+v", got)
		}
		evs, _ := e.audit.List(ctx, audit.Filter{UserID: u.ID})
		seen := map[string]bool{}
		for _, ev := range evs {
			seen[ev.Type] = true
			if ev.IP == "" || ev.UserAgent != "latchkey-test/1.0" {
				t.Errorf("event %s without IP/UA: %+v", ev.Type, ev)
			}
			for _, secret := range []string{code, newPW} {
				if strings.Contains(ev.Detail, secret) {
					t.Errorf("audit %s leaks a secret: %q", ev.Type, ev.Detail)
				}
			}
		}
		for _, typ := range []string{audit.RecoveryStart, audit.CodeSent, audit.MethodVerified, audit.PasswordReset} {
			if !seen[typ] {
				t.Errorf("no %s audit event", typ)
			}
		}
	})
}

// TestResetWithTOTP and an unbound request: no code is issued, the page
// says to sign in (F41).
func TestResetWithTOTP(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("bob", false)
		secret := e.enrollTOTP(u)
		b := e.browser()
		fp := b.start("bob@example.com", "AR-other-browser")
		b.post(fp, url.Values{"intent": {"reset"}})
		b.choose(fp, "authenticator app")
		code, _ := totp.Code(secret, e.clock.Now())
		b.post(fp+"/verify", url.Values{"code": {code}})
		b.must(200, "Choose a new password")
		b.post(fp+"/password", url.Values{"password": {newPW}, "confirm": {newPW}})
		b.must(200, "Your password was changed")
		if !strings.Contains(b.last, "Return to the application and sign in") {
			t.Error("done page does not tell to sign in")
		}
		if got := e.signIn.done; len(got) != 1 || strings.Join(got[0].AMR, ",") != "otp" {
			t.Fatalf("amr %+v, want [otp]", got)
		}
	})
}

// TestRequireSignInAfterReset (F43): the confirmation leads to the
// sign-in page with the username prefilled and the request still pending.
func TestRequireSignInAfterReset(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setPolicy("require_signin_after_reset=true")
		u := e.user("carol", false)
		secret := e.enrollTOTP(u)
		b := e.browser()
		fp := b.start("carol", boundRequest)
		b.post(fp, url.Values{"intent": {"reset"}})
		b.choose(fp, "authenticator app")
		code, _ := totp.Code(secret, e.clock.Now())
		b.post(fp+"/verify", url.Values{"code": {code}})
		b.post(fp+"/password", url.Values{"password": {newPW}, "confirm": {newPW}, "redirect": {"https://evil.example"}})
		if b.code != 400 {
			t.Fatalf("unknown field accepted: %d", b.code)
		}
		b.post(fp+"/password", url.Values{"password": {newPW}, "confirm": {newPW}})
		b.must(200, "Sign in with your new password to continue")
		if got := b.href(`a.button:contains("Sign in")`); got != "/login?authRequestID="+boundRequest+"&username=carol" {
			t.Fatalf("Sign in goes to %q", got)
		}
		if len(e.signIn.done) != 0 {
			t.Fatal("browser was signed in despite require_signin_after_reset")
		}
	})
}

// TestTwoMethodPolicy: email + questions pass; two email proofs or
// questions alone do not.
func TestTwoMethodPolicy(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setPolicy("required=2", "methods=email,totp,questions", "questions_ask=2")
		u := e.user("dave", false)
		e.enrollEmail(u, "dave.one@example.org")
		e.enrollEmail(u, "dave.two@example.org")
		e.enrollQuestions(u)

		emailProof := func(b *browser, fp, label, addr string) {
			t.Helper()
			b.choose(fp, label)
			e.drain()
			b.post(fp+"/verify", url.Values{"code": {e.out.Code(addr)}})
		}
		answer := func(b *browser, fp string, mutate func(string) string) {
			t.Helper()
			b.choose(fp, "security questions")
			in := url.Values{}
			for i, q := range questionTexts(b.last) {
				in.Set("answer."+itoa(i), mutate(answerFor(q)))
			}
			b.post(fp+"/verify", in)
		}

		t.Run("two-emails-count-once", func(t *testing.T) {
			b := e.browser()
			fp := b.start("dave", "")
			b.post(fp, url.Values{"intent": {"reset"}})
			emailProof(b, fp, "d•••e@example.org", "dave.one@example.org")
			b.must(200, "One more check is needed")
			// The second email is offered but does not satisfy the policy.
			for _, o := range b.options() {
				if strings.Contains(o[1], "d•••o@example.org") {
					b.post(fp+"/method", url.Values{"enrollment": {o[0]}})
				}
			}
			e.drain()
			b.post(fp+"/verify", url.Values{"code": {e.out.Code("dave.two@example.org")}})
			if strings.Contains(b.last, "Choose a new password") {
				t.Fatal("two email proofs satisfied a two-method policy")
			}
			b.get(fp + "/password")
			b.must(403, "cannot continue")
		})
		t.Run("questions-alone-never", func(t *testing.T) {
			b := e.browser()
			fp := b.start("dave", "")
			b.post(fp, url.Values{"intent": {"reset"}})
			answer(b, fp, func(s string) string { return strings.ToUpper(s) }) // case-insensitive (I55)
			b.must(200, "One more check is needed")
			b.get(fp + "/password")
			b.must(403, "cannot continue")
		})
		t.Run("spacing-must-match", func(t *testing.T) {
			b := e.browser()
			fp := b.start("dave", "")
			b.post(fp, url.Values{"intent": {"reset"}})
			answer(b, fp, func(s string) string { return strings.Replace(s, " ", "  ", 1) })
			b.must(200, "is not right")
		})
		t.Run("email-and-questions", func(t *testing.T) {
			b := e.browser()
			fp := b.start("dave", "")
			b.post(fp, url.Values{"intent": {"reset"}})
			emailProof(b, fp, "d•••e@example.org", "dave.one@example.org")
			answer(b, fp, func(s string) string { return strings.ToLower(s) })
			b.must(200, "Choose a new password")
		})
	})
}

func itoa(i int) string { return string(rune('0' + i)) }

// TestUnlockWithoutReset: the lockout ends, the password stays.
func TestUnlockWithoutReset(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		u := e.user("erin", false)
		secret := e.enrollTOTP(u)
		e.users.Lock(ctx, u.ID, e.clock.Now().Add(time.Hour))
		b := e.browser()
		fp := b.start("erin", boundRequest)
		b.post(fp, url.Values{"intent": {"unlock"}})
		b.choose(fp, "authenticator app")
		code, _ := totp.Code(secret, e.clock.Now())
		b.post(fp+"/verify", url.Values{"code": {code}})
		b.must(200, "Your account is unlocked")
		if _, err := e.users.Authenticate(ctx, "erin", "old violet kettle erin"); err != nil {
			t.Fatalf("old password after unlock: %v", err)
		}
		e.drain()
		if m := e.out.To("erin@example.com"); len(m) != 1 || !strings.Contains(m[0].Subject, "unlocked") {
			t.Fatalf("unlock notification: %+v", m)
		}
		b.get(fp + "/password")
		b.must(403, "cannot continue")
	})
}

// TestDisabledAccountGetsNothing (E38): an admin-disabled account walks a
// decoy: nothing is sent, nothing unlocked, no tokens.
func TestDisabledAccountGetsNothing(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		u := e.user("frank", false)
		e.enrollEmail(u, "frank@example.org")
		e.users.SetDisabled(ctx, u.ID, true)
		b := e.browser()
		fp := b.start("frank", boundRequest)
		b.post(fp, url.Values{"intent": {"unlock"}})
		opts := b.options()
		if len(opts) == 0 {
			t.Fatal("no (decoy) options")
		}
		b.post(fp+"/method", url.Values{"enrollment": {opts[0][0]}})
		e.drain()
		if n := len(e.out.Messages()); n != 0 {
			t.Fatalf("%d messages sent for a disabled account", n)
		}
		b.post(fp+"/verify", url.Values{"code": {"12345678"}})
		b.must(200, "is not right")
		got, _ := e.users.ByID(ctx, u.ID)
		if !got.Disabled {
			t.Fatal("re-enabled")
		}
	})
}

var _ = user.ErrNotFound
