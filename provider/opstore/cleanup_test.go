package opstore_test

import (
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/seed"
)

// cleanupRows is how many expired access and refresh tokens the cleanup
// test seeds; LATCHKEY_TEST_CLEANUP_ROWS=1000000 runs it at full size.
func cleanupRows(t *testing.T) int {
	if v := os.Getenv("LATCHKEY_TEST_CLEANUP_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("LATCHKEY_TEST_CLEANUP_ROWS=%q", v)
		}
		return n
	}
	return 5_000
}

// Expired tokens are deleted in bounded batches while client-credentials
// token requests keep succeeding on the same database; live tokens stay.
// The p99 of the token requests before and during the cleanup is logged.
func TestCleanupBatchesWhileTokensFlow(t *testing.T) {
	const batch = 250
	dbtest.EachDB(t, sets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		var mu sync.Mutex
		batches := map[string][]int64{}
		e := newEnv(t, g, opstore.WithCleanupBatch(batch, 0), opstore.WithCleanupObserver(func(table string, n int64) {
			mu.Lock()
			batches[table] = append(batches[table], n)
			mu.Unlock()
		}))
		n := cleanupRows(t)
		now := e.clk.Now()
		if err := seed.AccessTokens(ctx, g, "svc", "svc", n, now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := seed.RefreshTokens(ctx, g, "web", e.alice.ID, n, now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		const live = 300
		if err := seed.AccessTokens(ctx, g, "svc", "svc", live, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := seed.RefreshTokens(ctx, g, "web", e.alice.ID, live, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}

		srv := opServer(t, e)
		form := url.Values{"grant_type": {"client_credentials"}}
		var issued atomic.Int64
		tokenRequests := func(stop <-chan struct{}, min int) []time.Duration {
			var lat []time.Duration
			for i := 0; ; i++ {
				select {
				case <-stop:
					if i >= min {
						return lat
					}
				default:
				}
				start := time.Now()
				status, body := post(t, srv.URL+"/oauth/token", form, "svc", e.svcSec)
				lat = append(lat, time.Since(start))
				if status != http.StatusOK {
					t.Errorf("token request during cleanup: %d %v", status, body)
					return lat
				}
				issued.Add(1)
				if stop == nil && i+1 >= min {
					return lat
				}
			}
		}
		before := tokenRequests(nil, 200)

		done := make(chan struct{})
		var during []time.Duration
		var wg sync.WaitGroup
		wg.Go(func() { during = tokenRequests(done, 50) })
		err := e.s.Cleanup(ctx)
		close(done)
		wg.Wait()
		if err != nil {
			t.Fatalf("cleanup: %v", err)
		}

		for table, ns := range batches {
			for _, d := range ns {
				if d > batch {
					t.Fatalf("%s: a batch deleted %d rows, bound %d", table, d, batch)
				}
			}
		}
		for _, table := range []string{"oidc_access_tokens", "oidc_refresh_tokens"} {
			if got := len(batches[table]); got < n/batch {
				t.Errorf("%s: %d batches for %d rows of at most %d", table, got, n, batch)
			}
		}
		var expired, left int64
		g.Table("oidc_access_tokens").Where("expires_at < ?", now).Count(&expired)
		g.Table("oidc_access_tokens").Count(&left)
		if expired != 0 || left != live+issued.Load() {
			t.Errorf("access tokens: %d expired left, %d in all, want 0 and %d", expired, left, live+issued.Load())
		}
		g.Table("oidc_refresh_tokens").Where("family_expires_at < ?", now).Count(&expired)
		g.Table("oidc_refresh_tokens").Count(&left)
		if expired != 0 || left != live {
			t.Errorf("refresh tokens: %d expired left, %d in all, want 0 and %d", expired, left, live)
		}
		t.Logf("%d expired rows per table; token p99 before %s (%d requests), during cleanup %s (%d requests)",
			n, p99(before), len(before), p99(during), len(during))
	})
}

func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)*99)/100]
}
