package opstore_test

import (
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// Benchmarks of the client-credentials token path, piece by piece and
// end to end through the zitadel provider over HTTP. Run with
//
//	go test -run '^$' -bench . -benchtime 2s ./provider/opstore/
//
// (LATCHKEY_BENCH_DB=mysql for MariaDB at 127.0.0.1:3306).

func benchEnv(b *testing.B) *env {
	b.Helper()
	backend := dbtest.SQLite
	if strings.EqualFold(os.Getenv("LATCHKEY_BENCH_DB"), "mysql") {
		backend = dbtest.MySQL
	}
	e := newEnv(b, dbtest.Open(b, dbtest.URL(b, backend), sets()...))
	b.ResetTimer() // key generation and migrations are not the path measured
	return e
}

func BenchmarkAuthorizeClientIDSecret(b *testing.B) {
	e := benchEnv(b)
	ctx := b.Context()
	for b.Loop() {
		if err := e.s.AuthorizeClientIDSecret(ctx, "svc", e.svcSec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSigningKey(b *testing.B) {
	e := benchEnv(b)
	ctx := b.Context()
	for b.Loop() {
		if _, err := e.s.SigningKey(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreateAccessTokenClientCredentials(b *testing.B) {
	e := benchEnv(b)
	ctx := b.Context()
	tr, _ := e.s.ClientCredentialsTokenRequest(ctx, "svc", []string{"api"})
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := e.s.CreateAccessToken(ctx, tr); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkTokenEndpointClientCredentials(b *testing.B) {
	e := benchEnv(b)
	srv := opServer(b, e)
	b.ResetTimer()
	body := url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}}.Encode()
	client := srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/oauth/token", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("svc", e.svcSec)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkRefreshRotation measures the storage side of one refresh grant:
// lookup, user check and the rotation transaction.
func BenchmarkRefreshRotation(b *testing.B) {
	e := benchEnv(b)
	_, rt := e.codeTokens(b, "web", true)
	b.ResetTimer()
	for b.Loop() {
		_, next, err := e.refresh(b, rt)
		if err != nil {
			b.Fatal(err)
		}
		rt = next
	}
}

// clients is the number of concurrent callers of the parallel benchmarks,
// the 32 connections the load targets are stated for.
const clients = 32

// parallel32 makes RunParallel use about 32 goroutines whatever GOMAXPROCS.
func parallel32(b *testing.B) {
	b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
}

// BenchmarkClientCredentials32 issues opaque client-credentials tokens from
// 32 goroutines: the storage side of the token endpoint.
func BenchmarkClientCredentials32(b *testing.B) {
	e := benchEnv(b)
	ctx := b.Context()
	tr, _ := e.s.ClientCredentialsTokenRequest(ctx, "svc", []string{"api"})
	parallel32(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := e.s.CreateAccessToken(ctx, tr); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRefreshRotation32 rotates 32 refresh-token families at once,
// each goroutine its own (lookup, user check, rotation transaction).
func BenchmarkRefreshRotation32(b *testing.B) {
	e := benchEnv(b)
	tokens := make(chan string, clients)
	for range clients {
		_, rt := e.codeTokens(b, "web", true)
		tokens <- rt
	}
	parallel32(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rt := <-tokens
		for pb.Next() {
			_, next, err := e.refresh(b, rt)
			if err != nil {
				b.Error(err)
				return
			}
			rt = next
		}
	})
}

// BenchmarkCodeRedemption32 redeems authorization codes from 32 goroutines:
// the code lookup and claim, then the access token with its consumption of
// the request. The codes are made before the clock starts.
func BenchmarkCodeRedemption32(b *testing.B) {
	e := benchEnv(b)
	b.StopTimer()
	codes := make(chan string, b.N)
	for range b.N {
		ar := e.authorize(b, "web", "openid", "profile")
		code := "code-" + ar.GetID()
		e.signIn(b, ar, code)
		codes <- code
	}
	close(codes)
	parallel32(b)
	b.StartTimer()
	ctx := b.Context()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ar, err := e.s.AuthRequestByCode(ctx, <-codes)
			if err == nil {
				_, _, err = e.s.CreateAccessToken(ctx, ar)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
