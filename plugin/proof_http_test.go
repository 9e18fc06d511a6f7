package plugin_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/email"
	"github.com/latchkeyid/latchkey/plugin/method/questions"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/provider/user"
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
				e.clock.Add(time.Minute) // the methods predate the sign-in a step-up needs
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
