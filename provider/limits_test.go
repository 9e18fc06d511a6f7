package provider_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	pluginschema "github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/password"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/user"
)

// ipLimited is a server config with the per-IP sign-in limit as cmd wires
// it: the plugin's database counters behind ratelimit.Gate.
func ipLimited(limit int) pt.Config {
	return pt.Config{Provider: func(o *provider.Options) {
		if err := db.Migrate(context.Background(), o.DB, pluginschema.Set()); err != nil {
			panic(err)
		}
		o.LoginThrottle = ratelimit.Gate{Limiter: ratelimit.New(o.DB),
			Rule: ratelimit.Rule{Scope: "login-ip", Limit: limit, Window: 10 * time.Minute}}
	}}
}

// formOf returns the hidden fields of the sign-in form on p (CSRF token,
// authRequestID), to post many attempts from the same browser at once.
func formOf(p *pt.Page) url.Values {
	v := url.Values{}
	p.Doc.Find(`form[action="/login"] input[type="hidden"]`).Each(func(_ int, in *goquery.Selection) {
		v.Set(in.AttrOr("name", ""), in.AttrOr("value", ""))
	})
	return v
}

// burst posts n sign-in attempts from b at once (all released together)
// and returns how many answers each status got.
func burst(t *testing.T, s *pt.Server, b *pt.Browser, p *pt.Page, n int, attempt func(i int) (login, pw string)) map[int]int {
	t.Helper()
	base := formOf(p)
	var (
		mu     sync.Mutex
		counts = map[int]int{}
		wg     sync.WaitGroup
		start  = make(chan struct{})
		errs   = make(chan error, n)
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := url.Values{}
			for k, v := range base {
				f[k] = v
			}
			f.Set("username", "")
			login, pw := attempt(i)
			f.Set("username", login)
			f.Set("password", pw)
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/login", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			<-start
			res, err := b.Client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			res.Body.Close()
			if (res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable) && res.Header.Get("Retry-After") == "" {
				errs <- fmt.Errorf("%d without Retry-After", res.StatusCode)
			}
			mu.Lock()
			counts[res.StatusCode]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return counts
}

// TestParallelWrongPasswordsMeetTheIPLimit: N wrong passwords at once
// from one address, sprayed over many names, on one instance and on three
// behind one issuer. The attempt is reserved in the database before its
// password is hashed, so at most the limit are evaluated across every
// instance and the rest are refused with 429 and no hash at all.
func TestParallelWrongPasswordsMeetTheIPLimit(t *testing.T) {
	const n, limit = 300, 30
	for _, instances := range []int{1, 3} {
		t.Run(fmt.Sprintf("instances-%d", instances), func(t *testing.T) {
			cfg := ipLimited(limit)
			cfg.Instances = instances
			ipLimitBurst(t, cfg, n, limit)
		})
	}
}

func ipLimitBurst(t *testing.T, cfg pt.Config, n, limit int) {
	pt.Each(t, cfg, func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := s.NewBrowser(t)
		page := b.Get(rp.Start().URL).Page
		h := s.Users.Hasher()
		before := h.Evaluations()
		counts := burst(t, s, b, page, n, func(i int) (string, string) {
			if i%50 == 0 {
				return pt.Username, fmt.Sprintf("wrong guess %d", i)
			}
			return fmt.Sprintf("spray-%d", i), "Summer2026!"
		})
		evaluated := h.Evaluations() - before
		t.Logf("%d parallel wrong passwords from one IP (limit %d, %d instance(s)): %d hash-evaluated, answers %v", n, limit, max(cfg.Instances, 1), evaluated, counts)
		if evaluated > uint64(limit) {
			t.Errorf("%d passwords were hashed, want at most the limit %d", evaluated, limit)
		}
		if counts[http.StatusUnauthorized] > limit {
			t.Errorf("%d wrong-password answers, want at most %d", counts[http.StatusUnauthorized], limit)
		}
		// Refused without a hash: 429 beyond the limit, or 503 when the
		// hasher's queue was full (that attempt is given back, not counted).
		if refused := counts[http.StatusTooManyRequests] + counts[http.StatusServiceUnavailable]; refused < n-limit {
			t.Errorf("%d answers were 429 or 503, want at least %d", refused, n-limit)
		}
		for st := range counts {
			switch st {
			case http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusForbidden:
			default:
				t.Errorf("%d answers with status %d", counts[st], st)
			}
		}
		// Attempts the hasher turned away (503) were given back, so the
		// limit may have room left: use it up, one wrong password at a
		// time, never hashing more than the limit in all.
		for i := 0; i < limit; i++ {
			res := b.SignIn(page, fmt.Sprintf("topup-%d", i), "Summer2026!")
			if res.Page != nil && res.Page.Status == http.StatusTooManyRequests {
				break
			}
		}
		if evaluated = h.Evaluations() - before; evaluated > uint64(limit) {
			t.Errorf("%d passwords were hashed with the top-up, want at most the limit %d", evaluated, limit)
		}
		// The address stays refused, the right password included, and
		// nothing is hashed for it.
		before = h.Evaluations()
		res := b.SignIn(page, pt.Username, pt.Password)
		if res.Page == nil || res.Page.Status != http.StatusTooManyRequests || h.Evaluations() != before {
			t.Fatalf("after the burst: %s (hashes %d)", res, h.Evaluations()-before)
		}
	})
}

// TestParallelWrongPasswordsMeetTheLockout: N wrong passwords at once for
// one account (and for one unknown name), no per-IP limit: the failure is
// reserved on the account's row before hashing, so at most the lockout
// threshold are evaluated; the rest see the lock, and exactly one lockout
// event is audited.
func TestParallelWrongPasswordsMeetTheLockout(t *testing.T) {
	const n, threshold = 300, 10
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		for _, login := range []string{pt.Username, "nobody-at-all"} {
			t.Run(strings.ReplaceAll(login, "@", "-at-"), func(t *testing.T) {
				rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
				b := s.NewBrowser(t)
				page := b.Get(rp.Start().URL).Page
				h := s.Users.Hasher()
				before := h.Evaluations()
				counts := burst(t, s, b, page, n, func(i int) (string, string) { return login, fmt.Sprintf("guess number %d", i) })
				evaluated := h.Evaluations() - before
				t.Logf("%d parallel wrong passwords for %q (threshold %d): %d hash-evaluated, answers %v", n, login, threshold, evaluated, counts)
				if evaluated > threshold {
					t.Errorf("%d passwords were hashed, want at most %d", evaluated, threshold)
				}
				if refused := counts[http.StatusForbidden] + counts[http.StatusServiceUnavailable]; refused < n-threshold {
					t.Errorf("%d locked (or hasher-busy) answers, want at least %d", refused, n-threshold)
				}
			})
		}
		evs, err := s.Audit.List(t.Context(), audit.Filter{UserID: s.User.ID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		lockouts := 0
		for _, e := range evs {
			if e.Type == audit.Lockout {
				lockouts++
			}
		}
		if lockouts != 1 {
			t.Errorf("%d lockout events audited, want 1", lockouts)
		}
	})
}

// TestBurstMemory prints the resident memory a burst of parallel sign-ins
// costs with real Argon2id parameters (a measurement: it never fails on
// the figures).
func TestBurstMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	const n = 500
	cfg := ipLimited(30)
	cfg.Hasher = password.NewHasher(password.DefaultParams)
	pt.Each(t, cfg, func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := s.NewBrowser(t)
		page := b.Get(rp.Start().URL).Page
		runtime.GC()
		rss0 := rssMB()
		before := s.Users.Hasher().Evaluations()
		stop := make(chan struct{})
		var heapPeak uint64
		var gPeak int
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			var ms runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				runtime.ReadMemStats(&ms)
				heapPeak = max(heapPeak, ms.HeapInuse)
				gPeak = max(gPeak, runtime.NumGoroutine())
			}
		}()
		t0 := time.Now()
		counts := burst(t, s, b, page, n, func(i int) (string, string) { return fmt.Sprintf("name-%d", i), "wrong password" })
		took := time.Since(t0)
		close(stop)
		<-sampled
		t.Logf("%d parallel sign-ins, real Argon2id: RSS %d MB -> %d MB (process peak %d MB), Go heap in use peak %d MB, goroutines peak %d (client and server share the process), %d hashed, answers %v, took %v",
			n, rss0, rssMB(), peakMB(), heapPeak>>20, gPeak, s.Users.Hasher().Evaluations()-before, counts, took.Round(time.Millisecond))
	})
}

func rssMB() int  { return procStatusMB("VmRSS:") }
func peakMB() int { return procStatusMB("VmHWM:") }

func procStatusMB(field string) int {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			var kb int
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb / 1024
		}
	}
	return -1
}

// TestUnknownNameIsLockedLikeARealOne: after the threshold of wrong
// passwords, a name no account has gets the very page a real account
// gets (status, text, unlock link), keyed by the normalised name.
func TestUnknownNameIsLockedLikeARealOne(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		lockedPage := func(spellings ...string) *pt.Page {
			b := s.NewBrowser(t)
			page := b.Get(rp.Start().URL).Page
			var last *pt.Result
			for i := range 11 {
				last = b.SignIn(page, spellings[i%len(spellings)], fmt.Sprintf("wrong-%d", i))
				if i < 9 && (last.Page == nil || last.Page.Status != http.StatusUnauthorized) {
					t.Fatalf("attempt %d: %s", i+1, last)
				}
			}
			return last.Page
		}
		real := lockedPage(pt.Username, strings.ToUpper(pt.Username))
		unknown := lockedPage("nobody-here", "NoBody-Here", " nobody-here ")
		for name, p := range map[string]*pt.Page{"real": real, "unknown": unknown} {
			if p.Status != http.StatusForbidden || !strings.Contains(p.Text("#login-error"), "Your account is locked") {
				t.Fatalf("%s name after 11 wrong passwords: %d %q", name, p.Status, p.Text("#login-error"))
			}
		}
		norm := func(p *pt.Page, login string) string {
			body := p.Body
			p.Doc.Find(`input[type="hidden"]`).Each(func(_ int, in *goquery.Selection) {
				if v := in.AttrOr("value", ""); v != "" {
					body = strings.ReplaceAll(body, v, "HIDDEN")
				}
			})
			return strings.ReplaceAll(body, `value="`+login+`"`, `value="LOGIN"`)
		}
		if a, b := norm(real, pt.Username), norm(unknown, "NoBody-Here"); a != b { // the spellings of the 11th attempt
			t.Fatalf("locked pages differ:\nreal:\n%s\nunknown:\n%s", a, b)
		}
	})
}

// TestHintForAnotherUserIsNoPasswordOracle: with an id_token_hint for
// Bob, signing in as Alice is refused before her password is checked, so
// her right and wrong passwords get the same answer, nothing is hashed,
// her counters are untouched and each attempt is audited; Bob's own
// attempts are counted, audited and locked exactly as without a hint.
func TestHintForAnotherUserIsNoPasswordOracle(t *testing.T) {
	pt.Each(t, pt.Config{}, func(t *testing.T, s *pt.Server) {
		ctx := t.Context()
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		bob, err := s.Users.Create(ctx, user.NewUser{Username: "bob", Email: "bob@example.com", Password: "bob's long password 1"})
		if err != nil {
			t.Fatal(err)
		}
		vb := s.NewBrowser(t)
		a := rp.Start()
		q := rp.Callback(a, vb.SignIn(vb.Get(a.URL).Page, "bob", "bob's long password 1"))
		bobTok, err := rp.Exchange(ctx, a, q.Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		attacker := s.NewBrowser(t)
		page := attacker.Get(rp.Start(pt.Param("id_token_hint", bobTok.Raw)).URL).Page
		h := s.Users.Hasher()

		t.Run("alice-right-and-wrong-look-alike", func(t *testing.T) {
			before := h.Evaluations()
			right := attacker.SignIn(page, pt.Username, pt.Password)
			wrong := attacker.SignIn(page, pt.Username, "not her password")
			if right.Page == nil || wrong.Page == nil || right.Page.Status != wrong.Page.Status ||
				right.Page.Text("#login-error") != wrong.Page.Text("#login-error") {
				t.Fatalf("right and wrong password differ: %s / %s", right, wrong)
			}
			if !strings.Contains(right.Page.Text("#login-error"), "different account") {
				t.Fatalf("message %q", right.Page.Text("#login-error"))
			}
			if d := h.Evaluations() - before; d != 0 {
				t.Fatalf("%d passwords hashed for a login the hint excludes", d)
			}
			alice, _ := s.Users.ByID(ctx, s.User.ID)
			if alice.FailedLogins != 0 || alice.Lockouts != 0 {
				t.Fatalf("alice's counters moved: %+v", alice)
			}
			if n := countEvents(t, s, s.User.ID, audit.SignInFailed, "wrong_account"); n != 2 {
				t.Fatalf("%d wrong_account failures audited for alice, want 2", n)
			}
		})
		t.Run("bob-counted-as-without-hint", func(t *testing.T) {
			var last *pt.Result
			for i := range 10 {
				last = attacker.SignIn(page, "bob", fmt.Sprintf("guess-%d", i))
			}
			if last.Page == nil || last.Page.Status != http.StatusForbidden || !strings.Contains(last.Page.Text("#login-error"), "locked") {
				t.Fatalf("bob not locked after 10 wrong passwords: %s", last)
			}
			if n := countEvents(t, s, bob.ID, audit.SignInFailed, "bad_credentials"); n != 9 {
				t.Fatalf("%d failures audited for bob, want 9", n)
			}
			if n := countEvents(t, s, bob.ID, audit.Lockout, ""); n != 1 {
				t.Fatalf("%d lockouts audited for bob, want 1", n)
			}
		})
	})
}

func countEvents(t *testing.T, s *pt.Server, userID, typ, reason string) int {
	t.Helper()
	evs, err := s.Audit.List(t.Context(), audit.Filter{UserID: userID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == typ && (reason == "" || strings.Contains(e.Detail, `"reason":"`+reason+`"`)) {
			n++
		}
	}
	return n
}

// TestSuccessfulSignInsDoNotCountAgainstTheIPLimit: a sign-in reserves its
// attempt like any other, and one that succeeds gives it back, so an
// office behind one address is not locked out by its own users.
func TestSuccessfulSignInsDoNotCountAgainstTheIPLimit(t *testing.T) {
	pt.Each(t, ipLimited(3), func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		for i := range 5 {
			b := s.NewBrowser(t)
			a := rp.Start()
			if q := rp.Callback(a, b.SignIn(b.Get(a.URL).Page, pt.Username, pt.Password)); q.Get("code") == "" {
				t.Fatalf("sign-in %d refused", i+1)
			}
		}
		b := s.NewBrowser(t)
		page := b.Get(rp.Start().URL).Page
		for i := range 3 {
			if res := b.SignIn(page, fmt.Sprintf("someone-%d", i), "wrong password"); res.Page == nil || res.Page.Status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %s", i+1, res)
			}
		}
		res := b.SignIn(page, pt.Username, pt.Password)
		if res.Page == nil || res.Page.Status != http.StatusTooManyRequests || res.Page.Header.Get("Retry-After") == "" {
			t.Fatalf("4th attempt after 3 failures: %s", res)
		}
	})
}

// TestBusyHasherAnswers503: while every hashing slot is taken and the
// wait queue is full, a sign-in is answered 503 with Retry-After at once,
// with no hash and no 500; those that were evaluated say "wrong".
func TestBusyHasherAnswers503(t *testing.T) {
	cfg := pt.Config{Hasher: password.NewHasher(password.Params{Memory: 1024, Time: 1, Threads: 1}, password.WithSlots(1), password.WithQueue(0))}
	pt.Each(t, cfg, func(t *testing.T, s *pt.Server) {
		rp := s.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
		b := s.NewBrowser(t)
		page := b.Get(rp.Start().URL).Page
		h := s.Users.Hasher()
		// A stored hash with heavy parameters holds the one slot for a
		// while (Verify uses the parameters of the hash it checks).
		zeros := func(n int) string { return strings.Repeat("A", n) }
		heavy := "$argon2id$v=19$m=32768,t=16,p=1$" + zeros(22) + "$" + zeros(43)
		before := h.Evaluations()
		blocked := make(chan struct{})
		go func() {
			defer close(blocked)
			_, _, _ = h.Verify(context.Background(), heavy, "x")
		}()
		for h.Evaluations() == before {
			runtime.Gosched()
		}
		counts := burst(t, s, b, page, 20, func(i int) (string, string) { return fmt.Sprintf("name-%d", i), "wrong password" })
		evaluated := h.Evaluations() - before - 1
		<-blocked
		t.Logf("20 parallel sign-ins with the one slot busy and no queue: answers %v, %d evaluated", counts, evaluated)
		if counts[http.StatusServiceUnavailable] == 0 {
			t.Fatalf("no 503 while the hasher was busy: %v", counts)
		}
		if counts[http.StatusUnauthorized]+counts[http.StatusServiceUnavailable] != 20 || uint64(counts[http.StatusUnauthorized]) != evaluated {
			t.Fatalf("answers %v with %d evaluated", counts, evaluated)
		}
	})
}
