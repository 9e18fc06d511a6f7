package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/latchkeyid/latchkey/cmd/latchkey/internal/bench"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/email"
	"github.com/latchkeyid/latchkey/provider/user"
)

// The bench's temporary fixtures. The redirect URI is never contacted: the
// code is read from the redirect itself.
const (
	benchUsername = "latchkey-bench"
	benchRedirect = "http://127.0.0.1/latchkey-bench/callback"
)

// benchScenarios in the order they run (README, Performance, says what
// each one is). compare marks those a second issuer can run with nothing
// but a client_credentials client.
var benchScenarios = []struct {
	name    string
	compare bool
}{
	{"discovery", true}, {"jwks", true}, {"cc-opaque", true}, {"cc-rs256", false}, {"cc-es256", false},
	{"refresh", false}, {"refresh-es256", false}, {"introspect", false}, {"userinfo", false}, {"signin", false}, {"recovery", false},
}

type benchCmd struct {
	URL         string        `help:"Server to measure (default: the issuer); must be on this machine." placeholder:"URL"`
	Scenario    []string      `enum:"discovery,jwks,cc-opaque,cc-rs256,cc-es256,refresh,refresh-es256,introspect,userinfo,signin,recovery" default:"discovery,jwks,cc-opaque,cc-rs256,cc-es256,refresh,refresh-es256,introspect,userinfo,signin" help:"Scenarios to run (repeatable or comma-separated): discovery, jwks, cc-opaque, cc-rs256, cc-es256, refresh, refresh-es256, introspect, userinfo, signin, recovery."`
	Requests    int           `default:"1000000" help:"Requests per run, at most."`
	Duration    time.Duration `default:"15s" help:"Measured time per run, at most."`
	Warmup      time.Duration `default:"3s" help:"Warm-up before each run, not counted."`
	Concurrency int           `default:"32" help:"Parallel clients (refresh: parallel token chains)."`
	Rounds      int           `default:"1" help:"Runs per scenario; with --compare, rounds alternate the two servers (ABAB)."`
	ServerPID   int           `name:"server-pid" help:"PID of the measured server, for its CPU time and peak RSS (default: the process listening on the target's port, when visible)."`
	Compare     string        `help:"Second issuer on this machine (e.g. the zitadel/oidc example OP) to run the comparable scenarios against, alternating rounds, with the ratio." placeholder:"URL"`
	CompareID   string        `name:"compare-client-id" default:"sid1" help:"client_credentials client of the --compare issuer (default: the example OP's); its secret is LATCHKEY_BENCH_COMPARE_SECRET."`
	ComparePID  int           `name:"compare-pid" help:"PID of the --compare server (default: the process listening on its port)."`
	Ceilings    bool          `help:"Measure the ceilings first (RS256 and ES256 signing, one Argon2id hash at the configured cost, fsync) and show each scenario's share of its bound."`
	SMTPSink    string        `name:"smtp-sink" help:"Loopback address for an SMTP sink the bench runs, where the server's LATCHKEY_SMTP_URL points (recovery)." placeholder:"HOST:PORT"`
	RecoveryN   int           `name:"recovery-users" help:"Users the recovery scenario creates for each round, warm-up included (each is reset a few times, within the per-address send limit); default: enough for 32 recoveries a second."`
}

// recoveriesPerUser stays under the email method's per-address send limit
// (10 in 10 minutes) with room for a resend.
const recoveriesPerUser = 8

// recoveryUsersPerRound is --recovery-users, or by default enough users
// for a round (warm-up included) at 32 recoveries a second: more than one
// core's Argon2id allows at the default cost (two hashes a recovery), so
// a round ends by its time bound, not by running out of users.
func (c *benchCmd) recoveryUsersPerRound() int {
	if c.RecoveryN > 0 {
		return c.RecoveryN
	}
	secs := (c.Warmup + c.Duration).Seconds()
	return max(c.Concurrency, int(math.Ceil(secs*32/recoveriesPerUser)))
}

func (c *benchCmd) Run(a *app) error {
	target := c.URL
	if target == "" {
		target = a.cfg.Issuer
	}
	target = strings.TrimSuffix(target, "/")
	if err := c.validate(target); err != nil {
		return usageError{err}
	}
	hc := bench.HTTPClient(c.Concurrency)
	ep, err := bench.Discover(a.ctx, hc, target)
	if err != nil {
		return err
	}
	fx, err := a.benchFixtures(c, target, ep)
	if err != nil {
		return err
	}
	defer fx.remove()

	var peer *benchPeer
	if c.Compare != "" {
		if peer, err = c.peer(a, hc); err != nil {
			return err
		}
	}
	proc, how := c.process(target, c.ServerPID)
	fmt.Fprintf(a.stdout, "A: %s  (database %s; server process: %s)\n", target, dbKind(a.cfg.Database), how)
	if peer != nil {
		fmt.Fprintf(a.stdout, "B: %s  (server process: %s)\n", peer.base, peer.how)
	}
	fmt.Fprintf(a.stdout, "bounds per run: %s after %s warm-up, %d requests at most, %d in parallel; %d round(s)%s; GOMAXPROCS here %d\n\n",
		c.Duration, c.Warmup, c.Requests, c.Concurrency, c.Rounds, map[bool]string{true: " alternating A and B", false: ""}[peer != nil], runtime.GOMAXPROCS(0))

	var ceil *bench.Ceilings
	if c.Ceilings {
		m, err := bench.MeasureCeilings(a.ctx, min(time.Second, c.Duration), a.hasher().Params(), a.fsyncDir())
		if err != nil {
			return err
		}
		ceil = &m
		fmt.Fprintln(a.stdout, m)
	}

	fmt.Fprintln(a.stdout, bench.Header)
	var failed []string
	for _, s := range benchScenarios {
		if !slices.Contains(c.Scenario, s.name) {
			continue
		}
		var as, bs []bench.Result
		for range c.Rounds {
			r, err := fx.run(a, c, s.name, proc)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, r)
			as = append(as, r)
			if peer != nil && s.compare {
				r := peer.run(a, c, s.name)
				fmt.Fprintln(a.stdout, r)
				bs = append(bs, r)
			}
		}
		for _, r := range append(as, bs...) {
			if r.Errors > 0 {
				failed = append(failed, fmt.Sprintf("%s on %s: %d errors, first: %s", r.Scenario, r.Target, r.Errors, r.FirstError))
			} else if len(r.Latencies) == 0 {
				failed = append(failed, fmt.Sprintf("%s on %s: no request completed", r.Scenario, r.Target))
			}
		}
		summarize(a, s.name, as, bs, ceil, peer != nil && !s.compare)
	}
	if len(failed) > 0 {
		return errors.New("bench: requests failed:\n  " + strings.Join(failed, "\n  "))
	}
	return nil
}

func (c *benchCmd) validate(target string) error {
	if err := bench.CheckLoopback(target); err != nil {
		return err
	}
	if c.Compare != "" {
		if err := bench.CheckLoopback(c.Compare); err != nil {
			return fmt.Errorf("--compare: %w", err)
		}
	}
	if c.Requests < 1 || c.Requests > 10_000_000 || c.Concurrency < 1 || c.Concurrency > 256 ||
		c.Duration <= 0 || c.Duration > 10*time.Minute || c.Warmup < 0 || c.Warmup > time.Minute ||
		c.Rounds < 1 || c.Rounds > 20 || c.RecoveryN < 0 || c.RecoveryN > 10_000 {
		return errors.New("bounds: --requests 1..10000000, --concurrency 1..256, --duration up to 10m, --warmup up to 1m, --rounds 1..20, --recovery-users up to 10000")
	}
	if slices.Contains(c.Scenario, "recovery") {
		if c.SMTPSink == "" {
			return errors.New("the recovery scenario needs --smtp-sink HOST:PORT, where the server's LATCHKEY_SMTP_URL points")
		}
		if c.RecoveryN != 0 && c.RecoveryN < c.Concurrency {
			return errors.New("--recovery-users must be at least --concurrency (each worker owns its users)")
		}
	}
	return nil
}

// process finds the server's process: the PID given, else the one
// listening on the URL's port. It says which, or why there is none.
func (c *benchCmd) process(base string, pid int) (*bench.Process, string) {
	if pid > 0 {
		p := &bench.Process{PID: pid}
		if _, err := p.CPU(); err != nil {
			return nil, fmt.Sprintf("pid %d unreadable (%v); CPU and RSS not shown", pid, err)
		}
		return p, fmt.Sprintf("pid %d (given)", pid)
	}
	u, _ := url.Parse(base)
	port, _ := strconv.Atoi(u.Port())
	if port == 0 {
		port = map[string]int{"http": 80, "https": 443}[u.Scheme]
	}
	pid, err := bench.ListenerPID(port)
	if err != nil {
		return nil, err.Error() + "; CPU and RSS not shown"
	}
	if pid == os.Getpid() {
		// The server runs in this process (tests): its figures would
		// include the bench's own work.
		return nil, "this process; CPU and RSS not shown"
	}
	return &bench.Process{PID: pid}, fmt.Sprintf("pid %d, listening on port %d", pid, port)
}

// fsyncDir is where the ceiling's fsync is measured: the SQLite file's
// directory, else the temporary directory.
func (a *app) fsyncDir() string {
	if p, ok := strings.CutPrefix(a.cfg.Database, "sqlite://"); ok {
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		return filepath.Dir(p)
	}
	return os.TempDir()
}

// summarize prints the medians of the rounds: the ratios A/B (of
// requests per second and, steadier on a shared machine, of requests per
// second of server CPU) and the share of the ceiling that bounds the
// scenario.
func summarize(a *app, name string, as, bs []bench.Result, ceil *bench.Ceilings, notCompared bool) {
	rps, p99, cpu := medians(as)
	var notes []string
	if len(bs) > 0 {
		brps, bp99, bcpu := medians(bs)
		if brps > 0 && bp99 > 0 {
			notes = append(notes, fmt.Sprintf("A/B req/s %.2fx (%.0f vs %.0f), p99 %.2fx (%s vs %s)", rps/brps, rps, brps,
				float64(p99)/float64(bp99), p99.Round(10*time.Microsecond), bp99.Round(10*time.Microsecond)))
		}
		if cpu > 0 && bcpu > 0 {
			notes = append(notes, fmt.Sprintf("per server CPU-second %.2fx (%.0f vs %.0f)", cpu/bcpu, cpu, bcpu))
		}
	} else if notCompared {
		notes = append(notes, "not run on B (needs fixtures only Latchkey's database gives)")
	}
	if ceil != nil {
		if bound, what := ceil.Bound(name); bound > 0 {
			share := fmt.Sprintf("%.0f%% of the %s ceiling (%.1f/s)", 100*rps/bound, what, bound)
			if cpu > 0 {
				share += fmt.Sprintf(", %.0f%% per server CPU-second", 100*cpu/bound)
			}
			notes = append(notes, share)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(a.stdout, "%-13s => %s\n", name, strings.Join(notes, "; "))
	}
}

// medians returns the median requests per second, p99 and requests per
// server CPU-second (0 when unknown) of rs.
func medians(rs []bench.Result) (rps float64, p99 time.Duration, perCPU float64) {
	if len(rs) == 0 {
		return 0, 0, 0
	}
	r, c := make([]float64, len(rs)), make([]float64, len(rs))
	p := make([]time.Duration, len(rs))
	for i, x := range rs {
		r[i], p[i], c[i] = x.RPS(), x.Percentile(0.99), x.PerCPUSecond()
	}
	sort.Float64s(r)
	sort.Float64s(c)
	slices.Sort(p)
	n := len(rs)
	if n%2 == 0 {
		return (r[n/2-1] + r[n/2]) / 2, (p[n/2-1] + p[n/2]) / 2, (c[n/2-1] + c[n/2]) / 2
	}
	return r[n/2], p[n/2], c[n/2]
}

// benchPeer is the --compare issuer.
type benchPeer struct {
	base string
	ep   bench.Endpoints
	cl   bench.Client
	hc   *http.Client
	proc *bench.Process
	how  string
}

func (c *benchCmd) peer(a *app, hc *http.Client) (*benchPeer, error) {
	base := strings.TrimSuffix(c.Compare, "/")
	ep, err := bench.Discover(a.ctx, hc, base)
	if err != nil {
		return nil, fmt.Errorf("--compare: %w", err)
	}
	// A secret never comes from the command line; the default is the one
	// the example OP publishes.
	key := os.Getenv("LATCHKEY_BENCH_COMPARE_SECRET")
	if key == "" {
		key = "verysecret"
	}
	p := &benchPeer{base: base, ep: ep, hc: hc, cl: bench.Client{TokenURL: ep.Token, ClientID: c.CompareID, ClientSecret: key}}
	p.proc, p.how = c.process(base, c.ComparePID)
	return p, nil
}

func (p *benchPeer) run(a *app, c *benchCmd, name string) bench.Result {
	var w bench.Work
	switch name {
	case "discovery":
		w = bench.Get(p.hc, p.ep.Discovery)
	case "jwks":
		w = bench.Get(p.hc, p.ep.JWKS)
	case "cc-opaque":
		w = bench.ClientCredentials(p.hc, p.cl)
	}
	r := bench.Run(a.ctx, name, c.options(p.hc, p.proc), c.Concurrency, w)
	r.Target = "B"
	return r
}

func (c *benchCmd) options(hc *http.Client, proc *bench.Process) bench.Options {
	return bench.Options{Requests: c.Requests, Duration: c.Duration, Warmup: c.Warmup, Concurrency: c.Concurrency, Client: hc, Server: proc}
}

// benchFixtures holds the temporary clients and users of a run, created
// through the same database as the server's and removed at the end.
type benchFixtures struct {
	a        *app
	base     string
	ep       bench.Endpoints
	hc       *http.Client
	clients  map[string]bench.Client // by access token kind: opaque, rs256, es256
	password string                  // of every sign-in user
	signins  []string                // their usernames; the first also serves refresh and userinfo
	users    []string                // IDs to delete
	sink     *bench.Sink

	userStore *user.Store // where recovery rounds create their users
	rounds    int         // recovery rounds so far, in their users' names
	access    string      // a user's access token
}

func (a *app) benchFixtures(c *benchCmd, base string, ep bench.Endpoints) (fx *benchFixtures, err error) {
	fx = &benchFixtures{a: a, base: base, ep: ep, hc: bench.HTTPClient(c.Concurrency), clients: map[string]bench.Client{}}
	defer func() {
		if err != nil {
			fx.remove()
		}
	}()
	needs := func(names ...string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return slices.Contains(c.Scenario, n) })
	}
	for _, k := range []struct {
		kind, alg, att string
		scenarios      []string
	}{
		{"opaque", "RS256", "opaque", []string{"cc-opaque", "refresh", "introspect", "userinfo", "signin"}},
		// Opaque access tokens and an ES256 ID token: a rotation without
		// the RSA signature that bounds "refresh".
		{"opaque-es256", "ES256", "opaque", []string{"refresh-es256"}},
		{"rs256", "RS256", "jwt", []string{"cc-rs256"}},
		{"es256", "ES256", "jwt", []string{"cc-es256"}},
	} {
		if !needs(k.scenarios...) {
			continue
		}
		id := "latchkey-bench-" + k.kind + "-" + strings.ToLower(rand.Text()[:8])
		secretValue := randomSecret()
		if err := a.createBenchClient(id, secretValue, benchRedirect, k.alg, k.att); err != nil {
			return fx, fmt.Errorf("bench: create client: %w", err)
		}
		fx.clients[k.kind] = bench.Client{TokenURL: ep.Token, ClientID: id, ClientSecret: secretValue}
	}
	users, err := a.users()
	if err != nil {
		return fx, err
	}
	if needs("refresh", "refresh-es256", "userinfo", "signin") {
		// The first user serves refresh and userinfo; signin has one per
		// worker.
		fx.password = randomSecret()
		n := 1
		if needs("signin") {
			n = c.Concurrency
		}
		for i := range n {
			name := benchUsername
			if i > 0 {
				name = fmt.Sprintf("%s-s%03d", benchUsername, i)
			}
			u, err := a.benchUser(users, name, fx.password)
			if err != nil {
				return fx, err
			}
			fx.users = append(fx.users, u.ID)
			fx.signins = append(fx.signins, name)
			// A registered method: no "register a way to recover"
			// prompt, which a policy may make impossible to skip.
			if err := a.benchEmail(u.ID, name+"@bench.invalid"); err != nil {
				return fx, err
			}
		}
	}
	if needs("recovery") {
		if fx.sink, err = bench.ListenSink(c.SMTPSink); err != nil {
			return fx, fmt.Errorf("bench: SMTP sink: %w", err)
		}
		fx.userStore = users
	}
	return fx, nil
}

// recoveryUsers creates n users with a verified email address for one
// round of the recovery scenario. Each round has its own: a round on a
// fast moment of the machine may use up all it was given, and its users
// stay within the per-address send limit for the rest of the run.
// Addresses are new to the server each time, since its send limits count
// per address, across runs.
func (fx *benchFixtures) recoveryUsers(n int) ([]bench.RecoveryUser, error) {
	a, tag := fx.a, strings.ToLower(rand.Text()[:6])
	fx.rounds++
	out := make([]bench.RecoveryUser, 0, n)
	for i := range n {
		name := fmt.Sprintf("%s-r%02d-%04d", benchUsername, fx.rounds, i)
		u, err := a.benchUser(fx.userStore, name, randomSecret())
		if err != nil {
			return nil, err
		}
		fx.users = append(fx.users, u.ID)
		addr := name + "-" + tag + "@bench.invalid"
		if err := a.benchEmail(u.ID, addr); err != nil {
			return nil, err
		}
		out = append(out, bench.RecoveryUser{Username: name, Email: addr})
	}
	return out, nil
}

// run runs scenario once against the server under test.
func (fx *benchFixtures) run(a *app, c *benchCmd, name string, proc *bench.Process) (bench.Result, error) {
	hc, op := fx.hc, fx.clients["opaque"]
	workers := c.Concurrency
	var w bench.Work
	switch name {
	case "discovery":
		w = bench.Get(hc, fx.ep.Discovery)
	case "jwks":
		w = bench.Get(hc, fx.ep.JWKS)
	case "cc-opaque":
		w = bench.ClientCredentials(hc, op)
	case "cc-rs256":
		w = bench.ClientCredentials(hc, fx.clients["rs256"])
	case "cc-es256":
		w = bench.ClientCredentials(hc, fx.clients["es256"])
	case "refresh", "refresh-es256":
		// One token family per worker, signed in afresh for each run; the
		// browser's SSO session means only the first one types the
		// password.
		cl := op
		if name == "refresh-es256" {
			cl = fx.clients["opaque-es256"]
		}
		browser := bench.NewBrowser(hc, benchRedirect)
		chains := make([]string, workers)
		for i := range chains {
			t, err := browser.Token(a.ctx, fx.ep, cl, benchUsername, fx.password)
			if err != nil {
				return bench.Result{}, err
			}
			chains[i] = t
		}
		w = bench.RefreshToken(hc, cl, chains)
	case "introspect":
		tok, err := bench.Token(a.ctx, hc, op)
		if err != nil {
			return bench.Result{}, err
		}
		w = bench.Introspect(hc, op, fx.ep.Introspection, tok)
	case "userinfo":
		if fx.access == "" {
			t, err := bench.NewBrowser(hc, benchRedirect).Sign(a.ctx, fx.ep, op, benchUsername, fx.password)
			if err != nil {
				return bench.Result{}, err
			}
			fx.access = t.AccessToken
		}
		w = bench.Userinfo(hc, fx.ep.Userinfo, fx.access)
	case "signin":
		w = bench.SignIn(hc, fx.ep, op, benchRedirect, fx.signins, fx.password)
	case "recovery":
		users, err := fx.recoveryUsers(c.recoveryUsersPerRound())
		if err != nil {
			return bench.Result{}, err
		}
		w = bench.Recovery(hc, fx.base, fx.sink, users, recoveriesPerUser, workers)
	}
	return bench.Run(a.ctx, name, c.options(hc, proc), workers, w), nil
}

// remove deletes the fixtures, warning about what it could not.
func (fx *benchFixtures) remove() {
	a := fx.a
	if fx.sink != nil {
		_ = fx.sink.Close()
	}
	for _, cl := range fx.clients {
		if err := a.deleteClient(cl.ClientID); err != nil {
			fmt.Fprintf(a.stderr, "latchkey: warning: remove bench client %s: %v\n", cl.ClientID, err)
		}
	}
	if len(fx.users) == 0 {
		return
	}
	svc, _, err := a.accounts()
	if err != nil {
		fmt.Fprintf(a.stderr, "latchkey: warning: remove %d bench users: %v\n", len(fx.users), err)
		return
	}
	for _, id := range fx.users {
		if err := svc.Delete(a.ctx, id, nil); err != nil {
			fmt.Fprintf(a.stderr, "latchkey: warning: remove bench user %s: %v\n", id, err)
		}
	}
}

// benchEmail gives a bench user a verified email address, as
// `latchkey method add` does.
func (a *app) benchEmail(userID, addr string) error {
	m, err := a.provisioner(method.Email)
	if err != nil {
		return err
	}
	e, err := m.Provision(a.ctx, userID, method.Input{email.FieldAddress: addr})
	if err == nil {
		err = method.NewStore(a.g).Add(a.ctx, &e, 0)
	}
	if err != nil {
		return fmt.Errorf("bench: email method for %s: %w", addr, err)
	}
	return nil
}

// benchUser creates a bench user, replacing one a crashed run left.
func (a *app) benchUser(users *user.Store, name, pw string) (*user.User, error) {
	if old, err := users.ByLogin(a.ctx, name); err == nil {
		svc, _, err := a.accounts()
		if err != nil {
			return nil, err
		}
		if err := svc.Delete(a.ctx, old.ID, nil); err != nil {
			return nil, err
		}
	}
	u, err := users.Create(a.ctx, user.NewUser{Username: name, Email: name + "@bench.invalid",
		DisplayName: "Latchkey bench", Password: pw})
	if err != nil {
		return nil, fmt.Errorf("bench: create user: %w", err)
	}
	return u, nil
}

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func dbKind(u string) string {
	if i := strings.Index(u, "://"); i > 0 {
		return u[:i]
	}
	return "?"
}
