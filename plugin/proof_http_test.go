package plugin_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/email"
	"github.com/latchkeyid/latchkey/plugin/method/questions"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui"
	lkmail "github.com/latchkeyid/latchkey/ui/mail"
)

// evals counts, per method, the answers its verifier was asked to judge:
// what an attacker's parallel guesses actually reach.
type evals struct {
	mu sync.Mutex
	n  map[method.Name]*atomic.Int64
}

func (v *evals) counter(n method.Name) *atomic.Int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.n == nil {
		v.n = map[method.Name]*atomic.Int64{}
	}
	if v.n[n] == nil {
		v.n[n] = &atomic.Int64{}
	}
	return v.n[n]
}

// Of is how many answers method n judged so far.
func (v *evals) Of(n method.Name) int64 { return v.counter(n).Load() }

// wrap returns the methods with counting verifiers. Each wrapper embeds the
// concrete method, so its optional interfaces (resend, question pool)
// stay visible to the plugin.
func (v *evals) wrap(ms ...method.Method) []method.Method {
	out := make([]method.Method, len(ms))
	for i, m := range ms {
		switch m := m.(type) {
		case *totp.Method:
			out[i] = countedTOTP{m, v.counter(m.Name())}
		case *email.Method:
			out[i] = countedEmail{m, v.counter(m.Name())}
		case *questions.Method:
			out[i] = countedQuestions{m, v.counter(m.Name())}
		default:
			out[i] = m
		}
	}
	return out
}

type countedTOTP struct {
	*totp.Method
	n *atomic.Int64
}

func (c countedTOTP) Verify(ctx context.Context, flowID string, u method.Ref, e method.Enrollment, ch method.Challenge, in method.Input) (method.Result, error) {
	c.n.Add(1)
	return c.Method.Verify(ctx, flowID, u, e, ch, in)
}

type countedEmail struct {
	*email.Method
	n *atomic.Int64
}

func (c countedEmail) Verify(ctx context.Context, flowID string, u method.Ref, e method.Enrollment, ch method.Challenge, in method.Input) (method.Result, error) {
	c.n.Add(1)
	return c.Method.Verify(ctx, flowID, u, e, ch, in)
}

type countedQuestions struct {
	*questions.Method
	n *atomic.Int64
}

func (c countedQuestions) Verify(ctx context.Context, flowID string, u method.Ref, e method.Enrollment, ch method.Challenge, in method.Input) (method.Result, error) {
	c.n.Add(1)
	return c.Method.Verify(ctx, flowID, u, e, ch, in)
}

// signedIn is a browser with a session of u that signed in now.
func (e *env) signedIn(u *user.User) *browser {
	e.t.Helper()
	_, tok, err := e.sessions.Create(e.t.Context(), nil, u.ID, []string{"pwd"}, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	b := e.browser()
	su, _ := url.Parse(e.srv.URL)
	b.c.Jar.SetCookies(su, []*http.Cookie{{Name: sessCookie, Value: tok, Path: "/"}})
	return b
}

var stepUpActionRE = regexp.MustCompile(`action="(/security-info/verify/[A-Z2-7]+)"`)

// stepUp opens the step-up page and chooses the row whose text holds
// label; it returns the verify form's action.
func (b *browser) stepUp(label string) string {
	b.e.t.Helper()
	b.get("/security-info")
	b.must(200, "Before you view or change your security info")
	for _, o := range b.options() {
		if strings.Contains(o[1], label) {
			b.post("/security-info/verify", url.Values{"enrollment": {o[0]}})
			m := stepUpActionRE.FindStringSubmatch(b.last)
			if m == nil {
				b.e.t.Fatalf("no step-up verify form:\n%s", b.last)
			}
			return m[1]
		}
	}
	b.e.t.Fatalf("no step-up option %q in %v", label, b.options())
	return ""
}

// burst posts fields to path n times at once with the browser's cookies
// and CSRF token, and returns how many answers came back with each status.
func (b *browser) burst(path string, n int, fields url.Values) (map[int]int, error) {
	fields.Set("csrf", b.csrf)
	body := fields.Encode()
	var (
		mu    sync.Mutex
		codes = map[int]int{}
		first error
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := b.c.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[resp.StatusCode]++
		}()
	}
	close(start)
	wg.Wait()
	return codes, first
}

// failureRows counts the failed proofs recorded for subject.
func (e *env) failureRows(subject string) int64 {
	var n int64
	if err := e.g.Table("sspr_failures").Where("subject = ?", subject).Count(&n).Error; err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestParallelWrongAnswersMeetTheLimit: 50 wrong answers posted at once to
// one challenge reach the method's verifier at most the per-challenge
// limit of times, for every kind of method and for the step-up on
// Security info as for a recovery.
func TestParallelWrongAnswersMeetTheLimit(t *testing.T) {
	const parallel, limit = 50, 5
	tests := []struct {
		name   string
		method method.Name
		enroll func(e *env, u *user.User)
		open   func(e *env, u *user.User) (b *browser, verify string)
		wrong  url.Values
	}{
		{"recovery-totp", method.TOTP, func(e *env, u *user.User) { e.enrollTOTP(u) }, recoveryWith("authenticator app"), url.Values{"code": {"000000"}}},
		{"recovery-questions", method.Questions, func(e *env, u *user.User) { e.enrollQuestions(u) }, recoveryWith("security questions"),
			url.Values{"answer.0": {"wrong one"}, "answer.1": {"wrong two"}, "answer.2": {"wrong three"}}},
		{"recovery-email", method.Email, func(e *env, u *user.User) { e.enrollEmail(u, u.Username+".home@example.org") }, recoveryWith("@example.org"),
			url.Values{"code": {"00000000"}}},
		{"stepup-totp", method.TOTP, func(e *env, u *user.User) { e.enrollTOTP(u) }, stepUpWith("authenticator app"), url.Values{"code": {"000000"}}},
		{"stepup-email", method.Email, func(e *env, u *user.User) { e.enrollEmail(u, u.Username+".home@example.org") }, stepUpWith("@example.org"),
			url.Values{"code": {"00000000"}}},
		{"stepup-questions", method.Questions, func(e *env, u *user.User) { e.enrollQuestions(u) }, stepUpWith("security questions"),
			url.Values{"answer.0": {"wrong one"}, "answer.1": {"wrong two"}, "answer.2": {"wrong three"}}},
	}
	eachEnv(t, func(t *testing.T, e *env) {
		e.setPolicy("methods=email,totp,questions", "questions_register=3", "questions_ask=3")
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				u := e.user("par"+itoa(i), false)
				tc.enroll(e, u)
				e.clock.Advance(time.Minute) // the methods predate the sign-in a step-up needs
				b, verify := tc.open(e, u)
				before := e.evals.Of(tc.method)
				codes, err := b.burst(verify, parallel, tc.wrong)
				if err != nil {
					t.Fatalf("a request failed: %v (statuses %v)", err, codes)
				}
				evaluated := e.evals.Of(tc.method) - before
				t.Logf("%s: %d of %d parallel wrong answers evaluated, %d failures recorded, statuses %v",
					tc.name, evaluated, parallel, e.failureRows(u.ID), codes)
				if evaluated > limit {
					t.Errorf("%d of %d parallel wrong answers were evaluated, want at most %d", evaluated, parallel, limit)
				}
				if codes[http.StatusInternalServerError] > 0 {
					t.Errorf("statuses %v", codes)
				}
			})
		}
	})
}

func recoveryWith(label string) func(e *env, u *user.User) (*browser, string) {
	return func(e *env, u *user.User) (*browser, string) {
		b := e.browser()
		fp := b.start(u.Username, "")
		b.post(fp, url.Values{"intent": {"reset"}})
		b.choose(fp, label)
		return b, fp + "/verify"
	}
}

func stepUpWith(label string) func(e *env, u *user.User) (*browser, string) {
	return func(e *env, u *user.User) (*browser, string) {
		b := e.signedIn(u)
		return b, b.stepUp(label)
	}
}

// TestReplayedTOTPAtStepUp: an authenticator code that already proved once
// is refused at the step-up, audited as a replay and mailed, exactly as in
// a recovery.
func TestReplayedTOTPAtStepUp(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("rhea", false)
		secret := e.enrollTOTP(u)
		e.clock.Advance(time.Minute)
		code, _ := totp.Code(secret, e.clock.Now())

		first := e.signedIn(u)
		first.post(first.stepUp("authenticator app"), url.Values{"code": {code}})
		first.must(200, "Add sign-in method")

		thief := e.signedIn(u) // another session presents the same code
		thief.post(thief.stepUp("authenticator app"), url.Values{"code": {code}})
		thief.must(200, "That code does not match")
		thief.get("/security-info")
		thief.must(200, "Before you view or change your security info")

		evs, err := e.audit.List(t.Context(), audit.Filter{UserID: u.ID, Type: "totp.replay"})
		if err != nil || len(evs) != 1 || evs[0].IP == "" {
			t.Fatalf("replay audit: %+v %v", evs, err)
		}
		e.drain()
		if m := e.out.To("rhea@example.com"); len(m) != 1 || !strings.Contains(m[0].Subject, "used twice") {
			t.Fatalf("replay notification: %+v", m)
		}
	})
}

// instance mounts a second plugin on e's database whose registry offers
// only ms (instances configured differently behind one load balancer),
// and returns a browser for it that shares b's cookies.
func (e *env) instance(b *browser, ms ...method.Method) *browser {
	e.t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	reg, err := method.NewRegistry(ms...)
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := ui.New()
	if err != nil {
		e.t.Fatal(err)
	}
	tmpl, err := lkmail.New("http://" + srv.Listener.Addr().String())
	if err != nil {
		e.t.Fatal(err)
	}
	ec := echo.New()
	ec.HTTPErrorHandler = web.ErrorHandler(r, nil)
	if _, err := plugin.Mount(ec.Group(""), plugin.Deps{
		DB: e.g, Users: e.users, Audit: e.audit, Keys: e.keys, Methods: reg, Enrollments: e.store, Codes: e.codes,
		Policy: e.policy, Queue: e.queue, Captcha: testCaptcha{}, SignIn: e.signIn, Accounts: e.accounts, Renderer: r,
		Issuer: "http://" + srv.Listener.Addr().String(), Mail: tmpl, Now: e.clock.Now,
	}); err != nil {
		e.t.Fatal(err)
	}
	srv.Config.Handler = ec
	srv.Start()
	e.t.Cleanup(srv.Close)
	other := *e
	other.srv = srv
	// Cookies are per host, not per port: the session, the flow binding
	// and the CSRF cookie reach the second instance too.
	return &browser{e: &other, c: b.c, csrf: b.csrf}
}

// TestFlowOnInstanceWithoutTheMethod: a challenge issued by an instance
// that offers the authenticator app and answered at one that does not
// gets a clear page there, not a panic.
func TestFlowOnInstanceWithoutTheMethod(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("ines", false)
		e.enrollTOTP(u)
		e.enrollEmail(u, "ines.home@example.org")
		e.clock.Advance(time.Minute)
		tests := []struct {
			name  string
			open  func() (*browser, string)
			after string // what the other instance shows
		}{
			{"stepup", func() (*browser, string) { b := e.signedIn(u); return b, b.stepUp("authenticator app") }, "That method is not available now"},
			{"recovery", func() (*browser, string) { return recoveryWith("authenticator app")(e, u) }, "That method is not available now"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				b, verify := tc.open()
				other := e.instance(b, e.evals.wrap(e.email)...)
				req, _ := http.NewRequest(http.MethodPost, other.e.srv.URL+verify,
					strings.NewReader(url.Values{"code": {"123456"}, "csrf": {b.csrf}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := other.c.Do(req)
				if err != nil {
					t.Fatalf("the other instance failed the request: %v", err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), tc.after) {
					t.Fatalf("got %d, want 200 with %q:\n%s", resp.StatusCode, tc.after, body)
				}
			})
		}
	})
}

// failWrites makes the database refuse a write: inserting an audit event
// of type typ, or moving a flow of purpose to state. Triggers stand in for
// a database that fails at the worst moment.
func (e *env) failWrites(name, table, when string) {
	e.t.Helper()
	var sql string
	if e.g.Dialector.Name() == "sqlite" {
		sql = "CREATE TRIGGER " + name + " BEFORE " + table + " WHEN " + when + " BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
	} else {
		sql = "CREATE TRIGGER " + name + " BEFORE " + table + " FOR EACH ROW BEGIN IF " + when +
			" THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected failure'; END IF; END"
	}
	if err := e.g.Exec(sql).Error; err != nil {
		e.t.Fatal(err)
	}
}

// TestSecurityInfoWritesFailLoudly: when an audit event or the flow's
// final save cannot be written, Security info reports the failure instead
// of going on unrecorded (and a method whose registration flow could not
// be closed is not stored).
func TestSecurityInfoWritesFailLoudly(t *testing.T) {
	tests := []struct {
		name, trigger, table, when string
		act                        func(t *testing.T, e *env, u *user.User, b *browser)
		check                      func(t *testing.T, e *env, u *user.User)
	}{
		{"skip-audit", "fail_skip", "INSERT ON audit_events", "NEW.type = 'registration.skipped'",
			func(t *testing.T, e *env, u *user.User, b *browser) {
				to := e.forcedRegistration(b, u)
				b.get(to)
				b.must(200, "Skip")
				b.post(to+"/skip", nil)
			},
			func(t *testing.T, e *env, u *user.User) {
				var skips int64
				e.g.Table("sspr_user_state").Where("user_id = ? AND skips > 0", u.ID).Count(&skips)
				if skips != 0 {
					t.Error("a skip was counted without its audit event")
				}
			}},
		{"reconfirm-audit", "fail_reconfirm", "INSERT ON audit_events", "NEW.type = 'methods.reconfirmed'",
			func(t *testing.T, e *env, u *user.User, b *browser) {
				// Methods older than the sign-in: confirming them needs a step-up.
				secret := e.enrollTOTP(u)
				e.clock.Advance(time.Minute)
				*b = *e.signedIn(u)
				code, _ := totp.Code(secret, e.clock.Now())
				b.post(b.stepUp("authenticator app"), url.Values{"code": {code}})
				b.must(200, "Add sign-in method")
				b.post("/security-info/confirm", nil)
			}, nil},
		{"register-save", "fail_register", "UPDATE ON sspr_flows", "NEW.purpose = 'register' AND NEW.state = 'done'",
			func(t *testing.T, e *env, u *user.User, b *browser) {
				b.get("/security-info/add/totp")
				b.post("/security-info/add/totp", url.Values{"current_password": {"old violet kettle " + u.Username}})
				b.must(200, "Scan this code")
				m := regexp.MustCompile(`action="(/security-info/add/totp/[A-Z2-7]+)"`).FindStringSubmatch(b.last)
				s := regexp.MustCompile(`secret=([A-Z2-7]+)`).FindStringSubmatch(b.last)
				if m == nil || s == nil {
					t.Fatalf("no confirmation form:\n%s", b.last)
				}
				code, _ := totp.Code(s[1], e.clock.Now())
				b.post(m[1], url.Values{"code": {code}})
			},
			func(t *testing.T, e *env, u *user.User) {
				if ms, _ := e.store.List(t.Context(), u.ID); len(ms) != 0 {
					t.Errorf("the method was stored though its flow could not be closed: %+v", ms)
				}
			}},
	}
	eachEnv(t, func(t *testing.T, e *env) {
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				u := e.user("nia"+itoa(i), false)
				b := e.signedIn(u) // a fresh sign-in may add the first methods
				e.failWrites(tc.trigger, tc.table, tc.when)
				tc.act(t, e, u, b)
				if b.code != http.StatusInternalServerError {
					t.Fatalf("got %d (%s), want 500:\n%s", b.code, b.loc, b.last)
				}
				if tc.check != nil {
					tc.check(t, e, u)
				}
			})
		}
	})
}

// forcedRegistration runs the sign-in hook for u in b (as the provider
// does after a password sign-in) and returns the registration page.
func (e *env) forcedRegistration(b *browser, u *user.User) string {
	e.t.Helper()
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest(http.MethodPost, "/login", nil), rec)
	to, err := e.plugin.AfterSignIn(c, u.ID, "AR-1")
	if err != nil || to == "" {
		e.t.Fatalf("no forced registration: %q %v", to, err)
	}
	su, _ := url.Parse(e.srv.URL)
	b.c.Jar.SetCookies(su, rec.Result().Cookies())
	return to
}

// TestStepUpWhileBlocked: a subject whose failure budget is spent gets the
// paused page at the step-up and no code is sent.
func TestStepUpWhileBlocked(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("bea", false)
		e.enrollEmail(u, "bea.home@example.org")
		e.clock.Advance(time.Minute)
		for range flow.MaxFailures {
			if err := flow.NewFailures(e.g, e.clock.Now).Add(t.Context(), u.ID); err != nil {
				t.Fatal(err)
			}
		}
		b := e.signedIn(u)
		b.get("/security-info")
		for _, o := range b.options() {
			b.post("/security-info/verify", url.Values{"enrollment": {o[0]}})
		}
		b.must(200, "Recovery is paused")
		e.drain()
		if m := e.out.To("bea.home@example.org"); len(m) != 0 {
			t.Fatalf("a code was sent to a blocked account: %+v", m)
		}
	})
}
