package plugin_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/user"
)

// TestNoZitadel: the plugin never depends on zitadel, the provider root or
// its OP storage (DESIGN: plugin reaches OIDC only through SignIn).
func TestNoZitadel(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/latchkeyid/latchkey/plugin/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "zitadel") || dep == "github.com/latchkeyid/latchkey/provider" ||
			strings.HasPrefix(dep, "github.com/latchkeyid/latchkey/provider/opstore") ||
			strings.HasPrefix(dep, "github.com/latchkeyid/latchkey/provider/session") {
			t.Errorf("plugin depends on %s", dep)
		}
	}
}

// proven walks a reset for u (TOTP) up to the password page.
func (e *env) proven(t *testing.T, login, secret, authReq string) (*browser, string) {
	t.Helper()
	b := e.browser()
	fp := b.start(login, authReq)
	b.post(fp, url.Values{"intent": {"reset"}})
	b.choose(fp, "authenticator app")
	code, _ := totp.Code(secret, e.clock.Now())
	b.post(fp+"/verify", url.Values{"code": {code}})
	b.must(200, "Choose a new password")
	e.clock.Advance(30 * time.Second)
	return b, fp
}

// TestResetIsOneTransaction (E35): a failure in any step leaves the old
// password valid and nothing revoked; a later attempt still works.
func TestResetIsOneTransaction(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		u := e.user("olga", false)
		secret := e.enrollTOTP(u)
		_, tok, _ := e.sessions.Create(ctx, nil, u.ID, []string{"pwd"}, e.clock.Now())
		b, fp := e.proven(t, "olga", secret, "")
		e.signIn.failRevoke = errors.New("injected")
		b.post(fp+"/password", url.Values{"password": {newPW}, "confirm": {newPW}})
		if b.code != http.StatusInternalServerError {
			t.Fatalf("injected failure answered %d", b.code)
		}
		if _, err := e.users.Authenticate(ctx, "olga", "old violet kettle olga"); err != nil {
			t.Fatalf("old password lost after a failed reset: %v", err)
		}
		if _, err := e.sessions.Lookup(ctx, tok); err != nil {
			t.Fatal("session revoked by a failed reset")
		}
		if evs, _ := e.audit.List(ctx, audit.Filter{UserID: u.ID, Type: audit.PasswordReset}); len(evs) != 0 {
			t.Fatal("reset audited although it failed")
		}
		e.drain()
		if n := len(e.out.To("olga@example.com")); n != 0 {
			t.Fatal("notification queued although the reset failed")
		}
		e.signIn.failRevoke = nil
		b.post(fp+"/password", url.Values{"password": {newPW}, "confirm": {newPW}})
		b.must(200, "Your password was changed")
	})
}

// TestSetPasswordOnceUnderConcurrency (C25, race): 20 parallel submissions
// of the password step, exactly one succeeds.
func TestSetPasswordOnceUnderConcurrency(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("pete", false)
		secret := e.enrollTOTP(u)
		b, fp := e.proven(t, "pete", secret, "")
		var ok atomic.Int32
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pw := newPW + string(rune('a'+i))
				form := url.Values{"password": {pw}, "confirm": {pw}, "csrf": {b.csrf}}
				req, _ := http.NewRequest(http.MethodPost, e.srv.URL+fp+"/password", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := b.c.Do(req)
				if err == nil {
					if resp.StatusCode == 200 || resp.StatusCode == 303 {
						ok.Add(1)
					}
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 {
			t.Fatalf("%d password changes succeeded, want 1", ok.Load())
		}
		evs, _ := e.audit.List(t.Context(), audit.Filter{UserID: u.ID, Type: audit.PasswordReset})
		if len(evs) != 1 {
			t.Fatalf("%d reset events", len(evs))
		}
	})
}

// TestNotMeLink (E37, B17): the notification's link shows a confirmation
// on GET (scanners consume nothing); the POST locks the account, revokes
// sessions and works once.
func TestNotMeLink(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		u := e.user("quinn", false)
		secret := e.enrollTOTP(u)
		b, fp := e.proven(t, "quinn", secret, "")
		b.post(fp+"/password", url.Values{"password": {newPW}, "confirm": {newPW}})
		e.drain()
		mails := e.out.To("quinn@example.com")
		if len(mails) != 1 {
			t.Fatalf("mails %+v", mails)
		}
		link := ""
		for _, f := range strings.Fields(mails[0].Text) {
			if strings.Contains(f, "/recover/report/") {
				link = f
			}
		}
		if !strings.HasPrefix(link, e.srv.URL+"/recover/report/") {
			t.Fatalf("link %q not built from the issuer", link)
		}
		for _, bad := range []string{"code", "password", newPW} {
			if strings.Contains(strings.ToLower(mails[0].Text), strings.ToLower(bad)+":") {
				t.Errorf("notification carries %q", bad)
			}
		}
		_, tok, _ := e.sessions.Create(ctx, nil, u.ID, []string{"otp"}, e.clock.Now())
		victim := e.browser()
		path := strings.TrimPrefix(link, e.srv.URL)
		victim.get(path)
		victim.get(path) // a second GET (a mail scanner) still works
		victim.must(200, "Lock my account")
		victim.post(path, nil)
		victim.must(200, "Your account is locked")
		if _, err := e.users.Authenticate(ctx, "quinn", newPW); err == nil {
			t.Fatal("account not locked")
		}
		if _, err := e.sessions.Lookup(ctx, tok); err == nil {
			t.Fatal("session survived")
		}
		victim.post(path, nil)
		if victim.code != http.StatusNotFound {
			t.Fatalf("second use answered %d", victim.code)
		}
	})
}

// TestBlockEndsWithAdminUnlock (C/B14): 5 failed proofs block recovery;
// an admin's unlock ends the block early.
func TestBlockEndsWithAdminUnlock(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("rosa", false)
		secret := e.enrollTOTP(u)
		b := e.browser()
		fp := b.start("rosa", "")
		b.post(fp, url.Values{"intent": {"reset"}})
		b.choose(fp, "authenticator app")
		for range 5 {
			b.post(fp+"/verify", url.Values{"code": {"000000"}})
		}
		b.must(200, "Recovery is paused")
		if evs, _ := e.audit.List(t.Context(), audit.Filter{UserID: u.ID, Type: audit.RecoveryBlocked}); len(evs) == 0 {
			t.Fatal("block not audited")
		}
		// E39: failed proofs never lock the password sign-in.
		if _, err := e.users.Authenticate(t.Context(), "rosa", "old violet kettle rosa"); err != nil {
			t.Fatalf("recovery failures locked the account: %v", err)
		}
		e.clock.Advance(time.Second)
		// What `latchkey user unlock` does (cmd/latchkey TestUserUnlockEndsRecoveryBlock):
		// the block is decided from the failure records, not from audit events.
		if err := flow.NewFailures(e.g, e.clock.Now).Clear(t.Context(), nil, u.ID); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
		e.proven(t, "rosa", secret, "")
	})
}

// TestResendKeepsFailureCount (B13): 4 wrong, resend, 1 wrong: dead.
func TestResendKeepsFailureCount(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("sam", false)
		e.enrollEmail(u, "sam@example.org")
		b := e.browser()
		fp := b.start("sam", "")
		b.post(fp, url.Values{"intent": {"reset"}})
		b.choose(fp, "s•••m@example.org")
		for range 4 {
			b.post(fp+"/verify", url.Values{"code": {"00000000"}})
		}
		b.post(fp+"/resend", nil)
		b.must(200, "We sent a new code")
		b.post(fp+"/verify", url.Values{"code": {"00000000"}})
		e.drain()
		b.post(fp+"/verify", url.Values{"code": {e.out.Code("sam@example.org")}})
		if strings.Contains(b.last, "Choose a new password") {
			t.Fatal("the resent code worked after 5 failures in total")
		}
	})
}

// TestStartTiming (A2): with sends delayed, starting a recovery for a real
// user writes what it writes for an unknown name (nothing is sent inline;
// the flow row and the audit row), proved by recording the statements of
// each. The real user's start still reads more (its groups and policy: two
// indexed reads, printed here) until decoys do the real work; the time is
// only printed, from many interleaved samples: on a busy machine a
// difference of medians is noise.
func TestStartTiming(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("tina", false)
		e.enrollEmail(u, "tina@example.org")
		b := e.browser()
		b.get("/recover")
		stmts := dbtest.CountStatements(t, e.g)
		start := func(login string) (time.Duration, []string) {
			form := url.Values{"username": {login}, "captcha": {"ok"}, "csrf": {b.csrf}}
			req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/recover", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			c := *b.c
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			var took time.Duration
			st := stmts.Record(func() {
				t0 := time.Now()
				resp, err := c.Do(req)
				took = time.Since(t0)
				if err != nil || resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("start: %v", err)
				}
				resp.Body.Close()
			})
			return took, st
		}
		var real, unknown []time.Duration
		for i := range 30 {
			rt, rs := start("tina")
			ut, us := start("nobody-here")
			if w := func(st []string) []string {
				return slices.DeleteFunc(slices.Clone(st), func(s string) bool { return s == "read" })
			}; !slices.Equal(w(rs), w(us)) {
				t.Fatalf("start %d: real user wrote %v, unknown name %v", i, rs, us)
			}
			if i == 0 {
				t.Logf("statements: real user %v, unknown name %v", rs, us)
			}
			real, unknown = append(real, rt), append(unknown, ut)
		}
		med := func(ds []time.Duration) time.Duration {
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			return ds[len(ds)/2]
		}
		t.Logf("median start of 30 interleaved: real %v, unknown %v", med(real), med(unknown))
	})
}

// TestLogsCarryNoSecrets (L65): every log line of a full reset is free of
// the code and the passwords.
func TestLogsCarryNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(lockedWriter{&buf, &mu}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(prev) })
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("uma", false)
		e.enrollEmail(u, "uma@example.org")
		b := e.browser()
		fp := b.start("uma", "")
		b.post(fp, url.Values{"intent": {"reset"}})
		b.choose(fp, "u•••a@example.org")
		e.drain()
		code := e.out.Code("uma@example.org")
		b.post(fp+"/verify", url.Values{"code": {code}})
		b.post(fp+"/password", url.Values{"password": {newPW}, "confirm": {newPW}})
		b.must(200, "Your password was changed")
		e.drain()
		evs, _ := e.audit.List(t.Context(), audit.Filter{UserID: u.ID})
		var all strings.Builder
		for _, ev := range evs {
			all.WriteString(ev.Detail + " " + ev.Type + "\n")
		}
		mu.Lock()
		all.WriteString(buf.String())
		mu.Unlock()
		for _, s := range []string{code, newPW, "old violet kettle uma", b.csrf} {
			if strings.Contains(all.String(), s) {
				t.Errorf("a log or audit line contains the secret %q", s)
			}
		}
	})
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

var (
	_ = slices.Contains[[]string]
	_ = user.ErrNotFound
	_ *gorm.DB
)

// TestSendsPerIP: codes per client IP are limited, decoys included.
func TestSendsPerIP(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.plugin.SetSendsPerIP(ratelimit.New(e.g, ratelimit.WithClock(e.clock.Now)),
			ratelimit.Rule{Scope: "test-ip", Limit: 2, Window: 10 * time.Minute})
		u := e.user("vera", false)
		e.enrollEmail(u, "vera@example.org")
		for i, login := range []string{"vera", "nobody-1", "vera"} {
			b := e.browser()
			fp := b.start(login, "")
			b.post(fp, url.Values{"intent": {"reset"}})
			b.post(fp+"/method", url.Values{"enrollment": {b.options()[0][0]}})
			limited := strings.Contains(b.last, "Too many codes were sent")
			if limited != (i == 2) {
				t.Fatalf("send %d (%s): limited=%v", i, login, limited)
			}
		}
	})
}

func TestCleanup(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("yuri", false)
		secret := e.enrollTOTP(u)
		e.proven(t, "yuri", secret, "")
		e.clock.Advance(48 * time.Hour)
		if err := e.plugin.Cleanup(t.Context()); err != nil {
			t.Fatal(err)
		}
		var n int64
		e.g.Table("sspr_flows").Count(&n)
		if n != 0 {
			t.Fatalf("%d old flows left", n)
		}
	})
}

// TestStrengthMeter: the meter's score comes from zxcvbn and is 0 for a
// password the check refuses; it needs a proven flow.
func TestStrengthMeter(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("ida", false)
		secret := e.enrollTOTP(u)
		other := e.browser()
		other.get("/recover")
		b, fp := e.proven(t, "ida", secret, "")
		for pw, want := range map[string]string{"password1": `{"score":0,"ok":false,"reason":"The password is too common`,
			"ida-ida-ida-1": `{"score":0,"ok":false,"reason":"The password contains your username`, "glacier umbrella kettle nine": `{"score":4,"ok":true}`} {
			b.post(fp+"/strength", url.Values{"password": {pw}})
			if b.code != 200 || !strings.HasPrefix(strings.TrimSpace(b.last), want) {
				t.Errorf("%q: %d %s, want %s", pw, b.code, b.last, want)
			}
		}
		other.post(fp+"/strength", url.Values{"password": {"x"}})
		if other.code != http.StatusForbidden {
			t.Fatalf("strength without the flow's cookie: %d", other.code)
		}
	})
}
