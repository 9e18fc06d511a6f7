package user_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/user"
)

// BenchmarkSearch measures a search page over LATCHKEY_BENCH_USERS users
// (skipped when unset; the README quotes a run with 1,000,000):
//
//	LATCHKEY_BENCH_USERS=1000000 go test -run '^$' -bench BenchmarkSearch -benchtime 200x ./provider/user/
func BenchmarkSearch(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("LATCHKEY_BENCH_USERS"))
	if n <= 0 {
		b.Skip("set LATCHKEY_BENCH_USERS to the number of users to search")
	}
	for _, backend := range dbtest.Backends {
		b.Run(string(backend), func(b *testing.B) {
			g := dbtest.Open(b, dbtest.URL(b, backend), userSets()...)
			start := time.Now()
			const batch = 2000
			for i := 0; i < n; i += batch {
				us := make([]user.User, 0, batch)
				for j := i; j < min(i+batch, n); j++ {
					u := user.User{ID: fmt.Sprintf("U%025d", j), Username: fmt.Sprintf("user%07d", j),
						Email: fmt.Sprintf("m%07d@example.org", (j*7919)%n), DisplayName: fmt.Sprintf("Person %d", j%50000)}
					u.UsernameKey, u.EmailKey, u.NameKey = user.Normalize(u.Username), user.Normalize(u.Email), user.NameKey(u.DisplayName)
					us = append(us, u)
				}
				if err := g.CreateInBatches(us, 500).Error; err != nil {
					b.Fatal(err)
				}
			}
			if backend == dbtest.MySQL {
				g.Exec("ANALYZE TABLE users")
			}
			b.Logf("%d users inserted in %s", n, time.Since(start).Round(time.Second))
			s := user.NewStore(g, nil)
			for _, q := range []struct{ name, q string }{
				{"username-prefix", "user01234"},
				{"email-prefix", "m00099"},
				{"name-prefix", "person 4999"},
				{"no-match", "zzz"},
				{"everyone", ""},
			} {
				b.Run(q.name, func(b *testing.B) {
					first, err := s.Search(b.Context(), q.q, 50, "")
					if err != nil {
						b.Fatal(err)
					}
					b.ResetTimer()
					for range b.N {
						// A first page and the page after it (by cursor).
						p, err := s.Search(b.Context(), q.q, 50, "")
						if err != nil {
							b.Fatal(err)
						}
						if p.Next != "" {
							if _, err := s.Search(b.Context(), q.q, 50, p.Next); err != nil {
								b.Fatal(err)
							}
						}
					}
					b.ReportMetric(float64(len(first.Users)), "users/page")
				})
			}
		})
	}
}
