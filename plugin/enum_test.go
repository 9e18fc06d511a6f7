package plugin_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method/totp"
)

var volatile = regexp.MustCompile(`(name="(csrf|form)" value=")[^"]*|/recover/[A-Z2-7]{26}|value="[A-Z2-7]{26}(:[a-z]+)?"|(/recover\?s=)[A-Za-z0-9_-]+`)

// scrub removes per-request random values (CSRF, form nonce, flow id, the
// sealed state of Back to the name page).
func scrub(s string) string { return volatile.ReplaceAllString(s, "$1X") }

// structure reduces a page to its tags, dropping text (masked addresses
// differ per name by design).
// Option rows collapse to one: real users have one or several methods,
// and so do decoys.
func structure(s string) string {
	s = regexp.MustCompile(`>[^<]*<`).ReplaceAllString(scrub(s), "><")
	return regexp.MustCompile(`(<label><input type="radio" name="enrollment"[^>]*></label>)+`).ReplaceAllString(
		regexp.MustCompile(` checked`).ReplaceAllString(s, ""), "<option-rows>")
}

func cookieNames(resp *http.Response) []string {
	var out []string
	for _, c := range resp.Cookies() {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}

// TestStartIsGeneric (A1, A3, A4): an existing user, an unknown name, a
// disabled user, a locked user, a user without methods and one not
// enabled for SSPR get the same start response, the same choice page and
// a method page of the same structure; decoys fail at the code step with
// the wrong-code message and never send anything.
func TestStartIsGeneric(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		e.setPolicy("scope=group", "group=sspr")
		real := e.user("grace", false)
		e.users.AddGroups(ctx, real.ID, "sspr")
		e.enrollEmail(real, "grace@example.org")
		disabled := e.user("heidi", false)
		e.enrollEmail(disabled, "heidi@example.org")
		e.users.SetDisabled(ctx, disabled.ID, true)
		locked := e.user("ivan", false)
		e.users.AddGroups(ctx, locked.ID, "sspr")
		e.enrollEmail(locked, "ivan@example.org")
		e.users.Lock(ctx, locked.ID, e.clock.Now().Add(time.Hour))
		e.user("judy", false) // no methods
		notEnabled := e.user("mallory", false)
		e.enrollEmail(notEnabled, "mallory@example.org")

		type result struct {
			status  int
			body    string
			cookies []string
			choice  string
			methods string
		}
		run := func(login string) result {
			b := e.browser()
			b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			b.get("/recover")
			b.get(b.loc) // the start page's state (post-redirect-get)
			resp := b.post("/recover", url.Values{"username": {login}, "captcha": {"ok"}})
			r := result{status: resp.StatusCode, body: scrub(b.last), cookies: cookieNames(resp)}
			fp := "/recover/" + strings.TrimPrefix(b.loc, "/recover/")
			b.get(fp)
			r.choice = scrub(b.last)
			b.post(fp, url.Values{"intent": {"reset"}})
			b.get(fp + "/method")
			r.methods = structure(b.last)
			return r
		}
		want := run("grace")
		if want.status != http.StatusSeeOther {
			t.Fatalf("start answered %d", want.status)
		}
		for _, login := range []string{"nobody-at-all", "heidi", "ivan", "judy", "mallory", "Grace "} {
			t.Run(strings.TrimSpace(login), func(t *testing.T) {
				got := run(login)
				if got.status != want.status || got.body != want.body || !slices.Equal(got.cookies, want.cookies) {
					t.Fatalf("start differs: %d %q %v vs %d %q %v", got.status, got.body, got.cookies, want.status, want.body, want.cookies)
				}
				if got.choice != want.choice {
					t.Fatalf("choice page differs:\n%s\nvs\n%s", got.choice, want.choice)
				}
				if got.methods != want.methods {
					t.Fatalf("method page structure differs:\n%s\nvs\n%s", got.methods, want.methods)
				}
			})
		}
		t.Run("decoy-is-stable-and-fails-like-a-wrong-code", func(t *testing.T) {
			e.drain()
			e.out.Clear()
			list := func() [][2]string {
				b := e.browser()
				fp := b.start("nobody-at-all", "")
				b.post(fp, url.Values{"intent": {"reset"}})
				return b.options()
			}
			first := list()
			if !slices.Equal(first, list()) {
				t.Fatal("decoy list changes between requests")
			}
			b := e.browser()
			fp := b.start("nobody-at-all", "")
			b.post(fp, url.Values{"intent": {"reset"}})
			b.post(fp+"/method", url.Values{"enrollment": {first[0][0]}})
			b.post(fp+"/verify", url.Values{"code": {"12345678"}})
			b.must(200, "is not right")
			e.drain()
			if n := len(e.out.Messages()); n != 0 {
				t.Fatalf("a decoy sent %d messages", n)
			}
		})
		t.Run("not-enabled-told-only-after-proof", func(t *testing.T) {
			b := e.browser()
			fp := b.start("mallory", "")
			b.post(fp, url.Values{"intent": {"reset"}})
			b.choose(fp, "m•••y@example.org")
			e.drain()
			b.post(fp+"/verify", url.Values{"code": {e.out.Code("mallory@example.org")}})
			b.must(200, "not enabled self-service password reset for your account")
		})
	})
}

// TestStartRejectsBadInput (A5, A6): a failed CAPTCHA and duplicate or
// unknown fields send nothing and answer alike for every name.
func TestStartRejectsBadInput(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("kim", false)
		e.enrollEmail(u, "kim@example.org")
		for _, login := range []string{"kim", "nobody"} {
			b := e.browser()
			b.get("/recover")
			b.post("/recover", url.Values{"username": {login}, "captcha": {"wrong"}})
			b.must(200, "The digits did not match")
			for name, fields := range map[string]url.Values{
				"duplicate": {"username": {login, "attacker@evil.example"}, "captcha": {"ok"}},
				"array":     {"username[]": {login}, "captcha": {"ok"}},
				"unknown":   {"username": {login}, "email": {"attacker@evil.example"}, "captcha": {"ok"}},
			} {
				b.post("/recover", fields)
				if b.code != http.StatusBadRequest {
					t.Errorf("%s/%s: %d, want 400", login, name, b.code)
				}
			}
		}
		e.drain()
		if n := len(e.out.Messages()); n != 0 {
			t.Fatalf("%d messages sent", n)
		}
	})
}

// TestStepsInOrder (C20, C21): a later step with an earlier one
// unfinished, a flow without its cookie and a finished flow are 403.
func TestStepsInOrder(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("leo", false)
		secret := e.enrollTOTP(u)
		b := e.browser()
		fp := b.start("leo", "")
		pw := url.Values{"password": {newPW}, "confirm": {newPW}}
		steps := []struct {
			method, path string
			body         url.Values
		}{
			{"GET", "/method", nil}, {"GET", "/verify", nil}, {"POST", "/verify", url.Values{"code": {"123456"}}},
			{"GET", "/password", nil}, {"POST", "/password", pw}, {"GET", "/done", nil}, {"POST", "/resend", nil},
		}
		try := func(skip ...string) {
			t.Helper()
			for _, s := range steps {
				if slices.Contains(skip, s.method+s.path) {
					continue
				}
				if s.method == "GET" {
					b.get(fp + s.path)
				} else {
					b.post(fp+s.path, s.body)
				}
				if b.code != http.StatusForbidden {
					t.Errorf("%s %s answered %d, want 403", s.method, s.path, b.code)
				}
			}
		}
		try() // identified: only the choice is allowed
		b.get(fp)
		b.post(fp, url.Values{"intent": {"reset"}})
		try("GET/method")
		b.get(fp + "/method")
		b.choose(fp, "authenticator app")
		try("GET/method", "GET/verify", "POST/verify", "POST/resend")
		t.Run("another-browser-cannot-advance", func(t *testing.T) {
			other := e.browser()
			other.csrf = b.csrf
			other.get(fp + "/verify")
			if other.code != http.StatusForbidden {
				t.Fatalf("flow opened without its cookie: %d", other.code)
			}
			// A4: a real flow id without its cookie and a made-up id get
			// the same answer.
			foreign := other.last
			other.get("/recover/AAAAAAAAAAAAAAAAAAAAAAAAAA/verify")
			if other.code != http.StatusForbidden || other.last != foreign {
				t.Fatalf("unknown flow id answered differently: %d", other.code)
			}
		})
		code, _ := totp.Code(secret, e.clock.Now())
		b.post(fp+"/verify", url.Values{"code": {code}})
		try("GET/password", "POST/password")
		b.post(fp, url.Values{"intent": {"unlock"}}) // replaying an earlier step
		if b.code != http.StatusForbidden {
			t.Fatalf("replayed intent: %d", b.code)
		}
	})
}

// TestCodes (B9, B10, B12): five wrong codes kill the challenge, an
// expired code fails, a used code fails in the next flow.
func TestCodes(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("mia", false)
		e.enrollEmail(u, "mia@example.org")
		begin := func() (*browser, string, string) {
			b := e.browser()
			fp := b.start("mia", "")
			b.post(fp, url.Values{"intent": {"reset"}})
			b.choose(fp, "m•••a@example.org")
			e.drain()
			return b, fp, e.out.Code("mia@example.org")
		}
		t.Run("five-wrong-kill-the-challenge", func(t *testing.T) {
			b, fp, code := begin()
			for range 5 {
				b.post(fp+"/verify", url.Values{"code": {"00000000"}})
			}
			b.post(fp+"/verify", url.Values{"code": {code}})
			if strings.Contains(b.last, "Choose a new password") {
				t.Fatal("the right code passed after 5 wrong ones")
			}
		})
		// Five failed proofs also block the user's recovery for 24 h.
		t.Run("blocked-after-five-failures", func(t *testing.T) {
			b := e.browser()
			fp := b.start("mia", "")
			b.post(fp, url.Values{"intent": {"reset"}})
			b.choose(fp, "m•••a@example.org")
			b.must(200, "Recovery is paused")
			e.clock.Advance(24*time.Hour + time.Minute)
		})
		t.Run("expired", func(t *testing.T) {
			b, fp, code := begin()
			e.clock.Advance(10*time.Minute + time.Second)
			b.post(fp+"/verify", url.Values{"code": {code}})
			if strings.Contains(b.last, "Choose a new password") || b.code == 500 {
				t.Fatalf("expired code: %d", b.code)
			}
		})
		t.Run("used-code-fails-elsewhere", func(t *testing.T) {
			e.clock.Advance(24 * time.Hour)
			b, fp, code := begin()
			b.post(fp+"/verify", url.Values{"code": {code}})
			b.must(200, "Choose a new password")
			b2, fp2, _ := begin()
			b2.post(fp2+"/verify", url.Values{"code": {code}})
			b2.must(200, "is not right")
		})
	})
}

// TestWeakPasswordsRefused (D): common, context and current passwords are
// refused with a reason.
func TestWeakPasswordsRefused(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("nora", false)
		secret := e.enrollTOTP(u)
		b := e.browser()
		fp := b.start("nora", "")
		b.post(fp, url.Values{"intent": {"reset"}})
		b.choose(fp, "authenticator app")
		code, _ := totp.Code(secret, e.clock.Now())
		b.post(fp+"/verify", url.Values{"code": {code}})
		for _, pw := range []string{"short", "password123", "Password1!", "nora-is-my-name", "old violet kettle nora"} {
			b.post(fp+"/password", url.Values{"password": {pw}, "confirm": {pw}})
			if b.code != 200 || !strings.Contains(b.last, `class="error"`) {
				t.Errorf("%q accepted (%d)", pw, b.code)
			}
		}
		b.post(fp+"/password", url.Values{"password": {"correct horse battery staple"}, "confirm": {"correct horse battery staple"}})
		b.must(200, "Your password was changed")
	})
}
