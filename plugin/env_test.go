package plugin_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/plugin/captcha"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/email"
	"github.com/latchkeyid/latchkey/plugin/method/questions"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/plugin/sender/outbox"
	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/clocktest"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
	pschema "github.com/latchkeyid/latchkey/provider/schema"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/session"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui"
	lkmail "github.com/latchkeyid/latchkey/ui/mail"
)

// testCaptcha stands in until the builtin verifier is wired: every
// solution passes except the word "wrong".
type testCaptcha struct{}

func (testCaptcha) Kind() captcha.Kind { return captcha.Off }
func (testCaptcha) New(context.Context, string) (captcha.Widget, error) {
	return captcha.Widget{Kind: captcha.Off}, nil
}
func (testCaptcha) Verify(_ context.Context, _ string, f url.Values, _ string) (bool, error) {
	return f.Get("captcha") != "wrong", nil
}

// signIn is the provider side for plugin-only tests: real browser
// sessions (provider/session), a fake OP callback.
type signIn struct {
	sessions *session.Store
	now      func() time.Time
	mu       sync.Mutex
	done     []completion
	// failRevoke injects a failure into the reset transaction.
	failRevoke error
}

type completion struct {
	UserID, AuthRequestID string
	AMR                   []string
}

const sessCookie = "test_session"

// boundRequest is the auth request that counts as pending and bound to
// the browser in these tests.
const boundRequest = "AR-bound"

func (s *signIn) Current(c echo.Context) (plugin.Account, bool) {
	ck, err := c.Cookie(sessCookie)
	if err != nil {
		return plugin.Account{}, false
	}
	ss, err := s.sessions.Lookup(c.Request().Context(), ck.Value)
	if err != nil {
		return plugin.Account{}, false
	}
	return plugin.Account{UserID: ss.UserID, AuthTime: ss.AuthTime, SessionID: ss.ID}, true
}

func (s *signIn) Complete(c echo.Context, userID string, amr []string, ar string) (string, error) {
	_, tok, err := s.sessions.Create(c.Request().Context(), nil, userID, amr, s.now())
	if err != nil {
		return "", err
	}
	c.SetCookie(&http.Cookie{Name: sessCookie, Value: tok, Path: "/", HttpOnly: true})
	s.mu.Lock()
	s.done = append(s.done, completion{userID, ar, amr})
	s.mu.Unlock()
	if ar == boundRequest {
		return "http://rp.invalid/cb?code=issued", nil
	}
	return "", nil
}

func (s *signIn) ContinueURL(_ echo.Context, ar string) (string, error) {
	return "http://rp.invalid/cb?continued=" + ar, nil
}

func (s *signIn) LoginURL(ar, username string) string {
	return "/login?authRequestID=" + url.QueryEscape(ar) + "&username=" + url.QueryEscape(username)
}

// RevokeUser is the test's revoker beside the sessions': it injects a
// failure into the account transaction.
func (s *signIn) RevokeUser(context.Context, *gorm.DB, string, time.Time, account.Keep) error {
	return s.failRevoke
}

type env struct {
	t        testing.TB
	g        *gorm.DB
	clock    *clocktest.Clock
	keys     *secret.Keyring
	users    *user.Store
	audit    *audit.Log
	store    *method.Store
	codes    *method.Codes
	queue    *sender.Queue
	out      *outbox.Outbox
	policy   *policy.Store
	signIn   *signIn
	sessions *session.Store
	accounts *account.Service
	email    *email.Method
	totp     *totp.Method
	qs       *questions.Method
	plugin   *plugin.Plugin
	srv      *httptest.Server
	evals    *evals // answers the methods' verifiers were asked to judge
}

// fastHash keeps tests quick; production parameters are tested in
// provider/password.
var fastHash = plugintest.FastHash

func newEnv(t testing.TB, url string, params ...password.Params) *env {
	t.Helper()
	return newEnvWith(t, url, nil, params...)
}

// newEnvWith is newEnv with edit applied to the plugin's Deps.
func newEnvWith(t testing.TB, url string, edit func(*plugin.Deps), params ...password.Params) *env {
	t.Helper()
	hp := fastHash
	if len(params) > 0 {
		hp = params[0]
	}
	return newEnvHasher(t, url, edit, password.NewHasher(hp))
}

// newEnvHasher is newEnvWith with the hasher the user store and the
// security questions use (for tests of its bounds).
func newEnvHasher(t testing.TB, url string, edit func(*plugin.Deps), hasher *password.Hasher) *env {
	t.Helper()
	g := dbtest.Open(t, url, pschema.Set(), schema.Set())
	ck := clocktest.At(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	keys, err := secret.Parse(secret.Generate())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, g: g, clock: ck, keys: keys}
	e.users = user.NewStore(g, hasher, user.WithClock(ck.Now), user.WithKeyring(keys))
	e.audit = audit.NewLog(g, audit.WithClock(ck.Now))
	e.store = method.NewStore(g, method.WithStoreClock(ck.Now))
	e.codes = method.NewCodes(g, keys, method.WithCodeClock(ck.Now))
	e.out = outbox.New()
	e.queue = sender.NewQueue(g, keys, []sender.Sender{e.out}, sender.WithQueueClock(ck.Now))
	e.policy = policy.NewStore(g, policy.Default([]string{"email", "totp"}))
	e.sessions = session.NewStore(g, session.WithClock(ck.Now))
	e.signIn = &signIn{sessions: e.sessions, now: ck.Now}

	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	tmpl, err := lkmail.New(issuer)
	if err != nil {
		t.Fatal(err)
	}
	e.email = email.New(e.codes, e.queue, tmpl, keys)
	e.totp = totp.New(e.store, keys, issuer, totp.WithClock(ck.Now))
	e.qs = questions.New(g, hasher, keys, func(ctx context.Context) (int, int, error) {
		p, err := e.policy.Get(ctx)
		return p.QuestionsRegister, p.QuestionsAsk, err
	}, questions.WithClock(ck.Now))
	e.evals = &evals{}
	reg, err := method.NewRegistry(e.evals.wrap(e.totp, e.email, e.qs)...)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ui.New()
	if err != nil {
		t.Fatal(err)
	}
	ec := echo.New()
	ec.HTTPErrorHandler = web.ErrorHandler(r, nil)
	ec.Use(web.SecurityHeaders(false))
	e.accounts = account.New(g, e.users, ck.Now, e.sessions, e.signIn)
	deps := plugin.Deps{
		Accounts: e.accounts,
		DB:       g, Users: e.users, Audit: e.audit, Keys: keys, Methods: reg, Enrollments: e.store, Codes: e.codes,
		Policy: e.policy, Queue: e.queue, Captcha: testCaptcha{}, SignIn: e.signIn, Renderer: r, Issuer: issuer, Mail: tmpl,
		Now: ck.Now,
	}
	if edit != nil {
		edit(&deps)
	}
	e.plugin, err = plugin.Mount(ec.Group(""), deps)
	if err != nil {
		t.Fatal(err)
	}
	e.accounts.Register(e.plugin.Revoker())
	srv.Config.Handler = ec
	srv.Start()
	t.Cleanup(srv.Close)
	e.srv = srv
	return e
}

// setPolicy applies key=value settings.
func (e *env) setPolicy(settings ...string) {
	e.t.Helper()
	p, err := e.policy.Get(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	if p, err = policy.Apply(p, settings); err != nil {
		e.t.Fatal(err)
	}
	if err := e.policy.Set(e.t.Context(), p); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) user(name string, admin bool) *user.User {
	e.t.Helper()
	u, err := e.users.Create(e.t.Context(), user.NewUser{Username: name, Email: name + "@example.com",
		DisplayName: name, Password: "old violet kettle " + name, Admin: admin})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func ref(u *user.User) method.Ref {
	return method.Ref{ID: u.ID, Username: u.Username, Email: u.Email, Forbidden: []string{u.Username, u.Email}}
}

// drain delivers queued messages to the outbox.
func (e *env) drain() {
	e.t.Helper()
	if _, err := e.queue.Drain(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

// enrollEmail registers addr for u the way the method does (code proven).
func (e *env) enrollEmail(u *user.User, addr string) method.Enrollment {
	e.t.Helper()
	ctx := e.t.Context()
	p, err := e.email.Begin(ctx, "enroll-"+u.ID, ref(u), method.Input{"address": addr})
	if err != nil {
		e.t.Fatal(err)
	}
	e.drain()
	en, res, err := e.email.Finish(ctx, "enroll-"+u.ID, ref(u), p, method.Input{"code": e.out.Code(addr)})
	if err != nil || !res.OK {
		e.t.Fatalf("enroll email: %v %+v", err, res)
	}
	if err := e.store.Add(ctx, &en, 0); err != nil {
		e.t.Fatal(err)
	}
	e.out.Clear()
	return en
}

// enrollTOTP registers an authenticator for u and returns its secret.
func (e *env) enrollTOTP(u *user.User) string {
	e.t.Helper()
	ctx := e.t.Context()
	p, err := e.totp.Begin(ctx, "enroll-"+u.ID, ref(u), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	code, _ := totp.Code(p.Prompt.Secret, e.clock.Now())
	en, res, err := e.totp.Finish(ctx, "enroll-"+u.ID, ref(u), p, method.Input{"code": code})
	if err != nil || !res.OK {
		e.t.Fatalf("enroll totp: %v %+v", err, res)
	}
	if err := e.store.Add(ctx, &en, 0); err != nil {
		e.t.Fatal(err)
	}
	e.clock.Advance(30 * time.Second) // the enrolment code's step is used
	return p.Prompt.Secret
}

// enrollQuestions registers answers "answer one" ... for u.
func (e *env) enrollQuestions(u *user.User) {
	e.t.Helper()
	ctx := e.t.Context()
	pool, err := e.qs.Available(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	in := method.Input{}
	for i := range 3 {
		in[questions.FieldQuestion(i)] = pool[i].ID
		in[questions.FieldAnswer(i)] = answerFor(pool[i].Text)
	}
	p, err := e.qs.Begin(ctx, "enroll-"+u.ID, ref(u), in)
	if err != nil {
		e.t.Fatal(err)
	}
	en, res, err := e.qs.Finish(ctx, "enroll-"+u.ID, ref(u), p, nil)
	if err != nil || !res.OK {
		e.t.Fatalf("enroll questions: %v %+v", err, res)
	}
	if err := e.store.Add(ctx, &en, 0); err != nil {
		e.t.Fatal(err)
	}
}

// answerFor is the test answer to a question text (distinct per question).
var answerFor = plugintest.AnswerFor

const newPW = plugintest.NewPassword

var questionRE = regexp.MustCompile(`<label for="answer-[0-9]">([^<]+)</label>`)

// questionTexts lists the questions a page asks, in order.
func questionTexts(page string) []string {
	var out []string
	for _, m := range questionRE.FindAllStringSubmatch(page, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// browser is one user agent with its own cookies.
type browser struct {
	e    *env
	lang string // Accept-Language, when set
	c    *http.Client
	last string // body of the last page
	csrf string // the latest CSRF token seen
	code int
	loc  string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{e: e}
	b.c = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != strings.TrimPrefix(e.srv.URL, "http://") || req.URL.Path == "/login" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) *http.Response {
	b.e.t.Helper()
	req.Header.Set("User-Agent", "latchkey-test/1.0")
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.last, b.code, b.loc = string(body), resp.StatusCode, resp.Header.Get("Location")
	if m := csrfRE.FindStringSubmatch(b.last); m != nil {
		b.csrf = m[1]
	}
	return resp
}

func (b *browser) get(path string) *http.Response {
	b.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	return b.do(req)
}

// post submits fields with the CSRF token of the last page.
func (b *browser) post(path string, fields url.Values) *http.Response {
	b.e.t.Helper()
	if fields == nil {
		fields = url.Values{}
	}
	if fields.Get("csrf") == "" {
		fields.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// flowPath returns "/recover/<id>" of the page the browser is on.
func (b *browser) flowPath(resp *http.Response) string {
	p := resp.Request.URL.Path
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(parts) < 2 {
		b.e.t.Fatalf("not on a flow page: %s", p)
	}
	return "/recover/" + parts[1]
}

func (b *browser) must(status int, contains string) {
	b.e.t.Helper()
	if b.code != status || !(strings.Contains(b.last, contains) || strings.Contains(html.UnescapeString(b.last), contains)) {
		b.e.t.Fatalf("got %d, want %d containing %q; body:\n%s", b.code, status, contains, b.last)
	}
}

// start walks /recover for login and returns the flow path.
func (b *browser) start(login, authReq string) string {
	b.e.t.Helper()
	b.get("/recover?authRequestID=" + authReq)
	resp := b.post("/recover", url.Values{"username": {login}, "authRequestID": {authReq}, "captcha": {"ok"}})
	b.must(200, "Why are you having trouble")
	return b.flowPath(resp)
}

var optionRE = regexp.MustCompile(`name="enrollment" value="([A-Z2-7]+)"[^>]*> ([^<\n]+)`)

// options lists (id, text) of the method page.
func (b *browser) options() [][2]string {
	var out [][2]string
	for _, m := range optionRE.FindAllStringSubmatch(b.last, -1) {
		out = append(out, [2]string{m[1], strings.TrimSpace(m[2])})
	}
	return out
}

// choose picks the option whose text contains label.
func (b *browser) choose(fp, label string) {
	b.e.t.Helper()
	for _, o := range b.options() {
		if strings.Contains(o[1], label) {
			b.post(fp+"/method", url.Values{"enrollment": {o[0]}})
			return
		}
	}
	b.e.t.Fatalf("no option %q in %v", label, b.options())
}

func eachEnv(t *testing.T, fn func(t *testing.T, e *env)) {
	dbtest.Each(t, func(t *testing.T, url string) { fn(t, newEnv(t, url)) })
}

func dbtestEach(t *testing.T, fn func(t *testing.T, url string)) { dbtest.Each(t, fn) }

var _ = db.Set{}
