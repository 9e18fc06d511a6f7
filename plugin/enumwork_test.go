package plugin_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// work records the statements and cryptographic operations of the
// requests made while it is on.
type work struct {
	on   atomic.Bool
	mu   sync.Mutex
	sql  []string
	ops  map[secret.Op]int
	name string
}

var sqlValues = regexp.MustCompile(`'[^']*'|\b\d+\b`)

func watch(t *testing.T, e *env) *work {
	t.Helper()
	w := &work{ops: map[secret.Op]int{}}
	rec := func(g *gorm.DB) {
		if !w.on.Load() {
			return
		}
		// The statement with its placeholders: which query, not which values.
		s := sqlValues.ReplaceAllString(g.Statement.SQL.String(), "?")
		w.mu.Lock()
		w.sql = append(w.sql, s)
		w.mu.Unlock()
	}
	cb := e.g.Callback()
	for i, reg := range []interface {
		Register(string, func(*gorm.DB)) error
	}{cb.Query().After("gorm:query"), cb.Create().After("gorm:create"), cb.Update().After("gorm:update"),
		cb.Delete().After("gorm:delete"), cb.Row().After("gorm:row"), cb.Raw().After("gorm:raw")} {
		if err := reg.Register(fmt.Sprintf("test:work-%d", i), rec); err != nil {
			t.Fatal(err)
		}
	}
	e.keys.Observe(func(op secret.Op) {
		if w.on.Load() {
			w.mu.Lock()
			w.ops[op]++
			w.mu.Unlock()
		}
	})
	t.Cleanup(func() { e.keys.Observe(nil) })
	return w
}

type sample struct {
	sql []string
	ops map[secret.Op]int
	d   time.Duration
}

func (w *work) measure(fn func()) sample {
	w.mu.Lock()
	w.sql, w.ops = nil, map[secret.Op]int{}
	w.mu.Unlock()
	w.on.Store(true)
	start := time.Now()
	fn()
	d := time.Since(start)
	w.on.Store(false)
	w.mu.Lock()
	defer w.mu.Unlock()
	return sample{sql: slices.Clone(w.sql), ops: w.ops, d: d}
}

// TestDecoyDoesTheSameWork: a real account and a decoy cost the same
// queries (statement by statement) and the same number of MACs, seals
// and opens, at the start and on the method page. Timing is printed only
// (many interleaved samples, medians): the structure is the proof.
func TestDecoyDoesTheSameWork(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setPolicy("methods=email,totp")
		grace := e.user("grace", false)
		e.enrollEmail(grace, "grace@example.org")
		e.enrollTOTP(grace)
		heidi := e.user("heidi", false)
		e.enrollEmail(heidi, "heidi@example.org")
		e.users.SetDisabled(t.Context(), heidi.ID, true)
		e.user("judy", false) // no methods
		w := watch(t, e)
		type walk struct {
			b  *browser
			fp string
		}
		begin := func(login string) (walk, sample) {
			b := e.browser()
			b.get("/recover")
			var resp *http.Response
			s := w.measure(func() {
				resp = b.post("/recover", url.Values{"username": {login}, "captcha": {"ok"}})
			})
			b.must(200, "Why are you having trouble")
			fp := b.flowPath(resp)
			b.post(fp, url.Values{"intent": {"reset"}})
			return walk{b, fp}, s
		}
		begin("warm-up") // the decoy census is read once per interval, by any start
		logins := map[string]string{"real": "grace", "unknown": "nobody-at-all", "unknown-address": "Nobody.Else@Example.org",
			"disabled": "heidi", "without-methods": "judy"}
		starts := map[string]sample{}
		walks := map[string]walk{}
		for kind, login := range logins {
			walks[kind], starts[kind] = begin(login)
		}
		page := func(kind string) sample {
			wk := walks[kind]
			return w.measure(func() { wk.b.get(wk.fp + "/method") })
		}
		pages := map[string]sample{}
		for kind := range logins {
			pages[kind] = page(kind)
			if walks[kind].b.code != 200 || len(walks[kind].b.options()) == 0 {
				t.Fatalf("%s: method page %d", kind, walks[kind].b.code)
			}
		}
		for _, step := range []struct {
			name string
			got  map[string]sample
		}{{"start", starts}, {"method-page", pages}} {
			t.Run(step.name, func(t *testing.T) {
				want := step.got["real"]
				for kind, s := range step.got {
					if !slices.Equal(s.sql, want.sql) {
						t.Errorf("%s runs other statements than a real account:\n%s\nvs real:\n%s", kind,
							strings.Join(s.sql, "\n"), strings.Join(want.sql, "\n"))
					}
					if fmt.Sprint(s.ops) != fmt.Sprint(want.ops) {
						t.Errorf("%s: crypto operations %v, real %v", kind, s.ops, want.ops)
					}
				}
				t.Logf("%s: %d statements, crypto %v", step.name, len(want.sql), want.ops)
			})
		}
		// Printed, never asserted: interleaved samples of the method page.
		var real, decoy []time.Duration
		for range 40 {
			real = append(real, page("real").d)
			decoy = append(decoy, page("unknown").d)
		}
		t.Logf("method page median: real %v, decoy %v (40 interleaved samples each)", median(real), median(decoy))
	})
}

func median(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// TestFailureKeysAsForRealAccounts: the spellings that reach one real
// account pause together, and the same spellings of an unknown name pause
// together too: its case, and its address at a mail domain of the
// deployment. An address elsewhere is another name for both.
func TestFailureKeysAsForRealAccounts(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setPolicy("methods=email")
		alice := e.user("alice", false)
		// Her account's address is alice@example.com (e.user); the method
		// registered is at the same domain, as in most deployments.
		e.enrollEmail(alice, "alice@example.com")
		fail := func(login string) {
			b := e.browser()
			fp := b.start(login, "")
			b.post(fp, url.Values{"intent": {"reset"}})
			b.get(fp + "/method")
			opts := b.options()
			b.post(fp+"/method", url.Values{"enrollment": {opts[0][0]}})
			for range 5 {
				b.post(fp+"/verify", url.Values{"code": {"00000000"}})
			}
		}
		paused := func(login string) bool {
			b := e.browser()
			fp := b.start(login, "")
			b.post(fp, url.Values{"intent": {"reset"}})
			b.get(fp + "/method")
			b.post(fp+"/method", url.Values{"enrollment": {b.options()[0][0]}})
			return strings.Contains(b.last, "Recovery is paused")
		}
		for _, tc := range []struct {
			name, failAs string
			same         []string
			other        []string
		}{
			{"real-account", "alice", []string{"ALICE", "alice@example.com", "Alice@EXAMPLE.com"}, nil},
			{"unknown-name", "bob", []string{"BOB", "bob@example.com", "Bob@EXAMPLE.com"}, []string{"bob@elsewhere.example"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				fail(tc.failAs)
				for _, l := range tc.same {
					if !paused(l) {
						t.Errorf("%q not paused after five failures as %q", l, tc.failAs)
					}
				}
				for _, l := range tc.other {
					if paused(l) {
						t.Errorf("%q paused by failures of %q", l, tc.failAs)
					}
				}
			})
		}
	})
}

// TestMethodPageReloadLimited: the method page can be reloaded only so
// often per flow, the same for a real account and a decoy, so it cannot
// be sampled without limit.
func TestMethodPageReloadLimited(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.plugin.SetSendsPerIP(ratelimit.New(e.g, ratelimit.WithClock(e.clock.Now)), plugin.DefaultSendsPerIP)
		u := e.user("dora", false)
		e.enrollEmail(u, "dora@example.org")
		limit := plugin.DefaultMethodPagePerFlow.Limit
		for _, login := range []string{"dora", "nobody-at-all"} {
			t.Run(login, func(t *testing.T) {
				b := e.browser()
				fp := b.start(login, "")
				b.post(fp, url.Values{"intent": {"reset"}}) // and the redirect loads the page
				for i := 1; i < limit; i++ {
					if b.get(fp + "/method"); b.code != 200 {
						t.Fatalf("load %d: %d", i+1, b.code)
					}
				}
				if b.get(fp + "/method"); b.code != http.StatusTooManyRequests {
					t.Fatalf("load %d: %d, want 429", limit+1, b.code)
				}
				e.clock.Advance(plugin.DefaultMethodPagePerFlow.Window * 6 / 5) // the window and its partly counted bucket
				if b.get(fp + "/method"); b.code != 200 {
					t.Fatalf("after the window: %d", b.code)
				}
			})
		}
	})
}

// TestGetsWriteNoRows: loading the start page and the method page a
// hundred times adds no audit or other rows beyond those of the flow's
// own steps (the method list is audited once, when the flow reaches it).
func TestGetsWriteNoRows(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("erin", false)
		e.enrollEmail(u, "erin@example.org")
		count := func(table string) (n int64) {
			if err := e.g.Table(table).Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		tables := []string{"audit_events", "sspr_flows", "sspr_captchas"}
		for _, login := range []string{"erin", "nobody-at-all"} {
			t.Run(login, func(t *testing.T) {
				b := e.browser()
				fp := b.start(login, "")
				b.post(fp, url.Values{"intent": {"reset"}})
				before := map[string]int64{}
				for _, tb := range tables {
					before[tb] = count(tb)
				}
				for range 100 {
					b.get("/recover")
					b.get(fp + "/method")
				}
				for _, tb := range tables {
					if n := count(tb) - before[tb]; n != 0 {
						t.Errorf("100 loads of /recover and the method page added %d rows to %s", n, tb)
					}
				}
				evs := 0
				var rows []struct{ Type string }
				e.g.Table("audit_events").Select("type").Where("type = ?", "recovery.methods").Find(&rows)
				evs = len(rows)
				if evs == 0 {
					t.Error("the method list was never audited")
				}
			})
		}
	})
}

// TestCaptchaChecksLimitedPerIP: each CAPTCHA check writes a row (the spent
// CAPTCHA), so checks from one address are limited: beyond the limit the
// start page answers 429 without checking (or writing) anything.
func TestCaptchaChecksLimitedPerIP(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.plugin.SetSendsPerIP(ratelimit.New(e.g, ratelimit.WithClock(e.clock.Now)), plugin.DefaultSendsPerIP)
		b := e.browser()
		b.get("/recover")
		for i := range plugin.DefaultCaptchaPerIP.Limit {
			if b.post("/recover", url.Values{"username": {"someone"}, "captcha": {"wrong"}}); b.code != 200 {
				t.Fatalf("check %d: %d", i+1, b.code)
			}
		}
		b.post("/recover", url.Values{"username": {"someone"}, "captcha": {"ok"}})
		if b.code != http.StatusTooManyRequests || !strings.Contains(b.last, "Too many attempts") {
			t.Fatalf("check %d: %d, want 429", plugin.DefaultCaptchaPerIP.Limit+1, b.code)
		}
	})
}

// TestDecoyEmailSendDoesTheSameWork: choosing "Email a code" costs a decoy
// what it costs a real account: the same statements (the outbox row
// included, born delivered for a decoy) and the same opens and seals;
// nothing reaches a mailbox.
func TestDecoyEmailSendDoesTheSameWork(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setPolicy("methods=email")
		g := e.user("grace", false)
		e.enrollEmail(g, "grace@example.org")
		w := watch(t, e)
		choose := func(login string) sample {
			b := e.browser()
			fp := b.start(login, "")
			b.post(fp, url.Values{"intent": {"reset"}})
			opts := b.options()
			if len(opts) == 0 {
				t.Fatalf("%s: no options", login)
			}
			s := w.measure(func() { b.post(fp+"/method", url.Values{"enrollment": {opts[0][0]}}) })
			b.must(200, "We sent a code")
			return s
		}
		choose("warm-up")
		real, decoy := choose("grace"), choose("nobody-at-all")
		if !slices.Equal(real.sql, decoy.sql) {
			t.Errorf("decoy send runs other statements:\n%s\nvs real:\n%s", strings.Join(decoy.sql, "\n"), strings.Join(real.sql, "\n"))
		}
		if fmt.Sprint(real.ops) != fmt.Sprint(decoy.ops) {
			t.Errorf("crypto operations: decoy %v, real %v", decoy.ops, real.ops)
		}
		e.drain()
		for _, m := range e.out.Messages() {
			if !strings.Contains(m.To, "grace@example.org") {
				t.Errorf("a message went to %q", m.To)
			}
		}
		t.Logf("send: %d statements, crypto %v; real %v, decoy %v (one sample each, printed only)", len(real.sql), real.ops, real.d, decoy.d)
	})
}
