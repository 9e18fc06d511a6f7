package plugin_test

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/password"
)

// stages times each step of a recovery across goroutines.
type stages struct {
	mu sync.Mutex
	d  map[string][]time.Duration
}

func (s *stages) add(name string, d time.Duration) {
	s.mu.Lock()
	s.d[name] = append(s.d[name], d)
	s.mu.Unlock()
}

func (s *stages) report(b *testing.B) {
	names := make([]string, 0, len(s.d))
	for n := range s.d {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ds := s.d[n]
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		b.ReportMetric(float64(sum.Microseconds())/float64(len(ds))/1000, n+"-ms")
	}
}

// BenchmarkRecovery runs complete email-code recoveries (start, choice,
// method, code mailed through the queue and read back, verify, new
// password with production Argon2id parameters) through the HTTP server on
// SQLite, in parallel, and reports recoveries per second and the mean
// time of each step.
//
//	go test -run '^$' -bench Recovery -benchtime 200x ./plugin/
func BenchmarkRecovery(b *testing.B) {
	for _, hp := range []struct {
		name string
		p    password.Params
	}{{"argon2id-19MiB-t2", password.DefaultParams}, {"argon2id-1MiB-t1", fastHash}} {
		b.Run(hp.name, func(b *testing.B) {
			e := newEnv(b, dbtest.URL(b, dbtest.SQLite), hp.p)
			const pool = 64
			names := make([]string, pool)
			for i := range pool {
				names[i] = fmt.Sprintf("load%02d", i)
				u := e.user(names[i], false)
				e.enrollEmail(u, names[i]+"@example.org")
			}
			st := &stages{d: map[string][]time.Duration{}}
			var next, iter atomic.Int64
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				name := names[next.Add(1)%pool]
				for pb.Next() {
					n := iter.Add(1)
					br := e.browser()
					t0 := time.Now()
					fp := br.start(name, "")
					st.add("1-start", time.Since(t0))
					t0 = time.Now()
					br.post(fp, url.Values{"intent": {"reset"}})
					st.add("2-intent", time.Since(t0))
					seen := len(e.out.To(name + "@example.org"))
					t0 = time.Now()
					br.choose(fp, "@example.org")
					st.add("3-send-code", time.Since(t0))
					t0 = time.Now()
					// Another worker's Drain may be delivering this message:
					// wait until it has arrived.
					code := ""
					for deadline := time.Now().Add(5 * time.Second); code == "" && time.Now().Before(deadline); {
						e.drain()
						for _, m := range e.out.To(name + "@example.org")[seen:] {
							if c := codeIn(m.Text); c != "" {
								code = c
							}
						}
						if code == "" {
							time.Sleep(time.Millisecond)
						}
					}
					st.add("4-deliver", time.Since(t0))
					t0 = time.Now()
					br.post(fp+"/verify", url.Values{"code": {code}})
					st.add("5-verify", time.Since(t0))
					pw := fmt.Sprintf("lantern orchard quietly %d", n)
					t0 = time.Now()
					br.post(fp+"/password", url.Values{"password": {pw}, "confirm": {pw}})
					st.add("6-set-password", time.Since(t0))
					if !strings.Contains(br.last, "Your password was changed") {
						b.Errorf("recovery %d did not finish: %d %s", n, br.code, br.last[strings.Index(br.last, "<h1>"):][:120])
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "recoveries/s")
			st.report(b)
		})
	}
}

func codeIn(text string) string {
	for _, f := range strings.Fields(text) {
		f = strings.Trim(f, ".,:;")
		if len(f) == 8 && strings.Trim(f, "0123456789") == "" {
			return f
		}
	}
	return ""
}
