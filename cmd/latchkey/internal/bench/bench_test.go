package bench

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://127.1.2.3:8080", true},
		{"https://localhost", true},
		{"http://LOCALHOST:80", true},
		{"http://[::1]:8080", true},
		{"http://10.0.0.1:8080", false},
		{"https://id.example.com", false},
		{"http://localhost.example.com", false},
		{"http://0.0.0.0:8080", false},
		{"ftp://127.0.0.1", false},
		{"127.0.0.1:8080", false},
	}
	for _, tt := range tests {
		t.Run(strings.NewReplacer(":", "-", "/", "-", ".", "-").Replace(tt.url), func(t *testing.T) {
			if err := CheckLoopback(tt.url); (err == nil) != tt.ok {
				t.Fatalf("CheckLoopback(%q) = %v, want ok=%v", tt.url, err, tt.ok)
			}
		})
	}
}

// The client refuses to dial off the machine even when a loopback server
// redirects it elsewhere.
func TestHTTPClientStaysOnLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://192.0.2.1/", http.StatusFound)
	}))
	defer srv.Close()
	_, err := HTTPClient(1).Get(srv.URL)
	if !errors.Is(err, ErrNotLoopback) {
		t.Fatalf("err = %v, want ErrNotLoopback", err)
	}
}

func TestPercentile(t *testing.T) {
	r := Result{Elapsed: time.Second}
	for i := 1; i <= 100; i++ {
		r.Latencies = append(r.Latencies, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.9, 90 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}}
	for _, tt := range tests {
		if got := r.Percentile(tt.p); got != tt.want {
			t.Errorf("Percentile(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if r.RPS() != 100 {
		t.Errorf("RPS = %v, want 100", r.RPS())
	}
	if r.PerCPUSecond() != 0 {
		t.Errorf("PerCPUSecond without usage = %v, want 0", r.PerCPUSecond())
	}
	r.Usage = &Usage{CPU: 250 * time.Millisecond}
	if r.PerCPUSecond() != 400 {
		t.Errorf("PerCPUSecond = %v, want 400 (100 requests in a quarter CPU-second)", r.PerCPUSecond())
	}
	if !strings.Contains(r.String(), "2500us") {
		t.Errorf("line lacks the CPU per request: %s", r)
	}
	if (Result{}).Percentile(0.99) != 0 {
		t.Error("empty result must give 0")
	}
}

// The bounds hold: never more requests than asked, and a slow server is
// cut off by the duration.
func TestBounds(t *testing.T) {
	var hits atomic.Int64
	slow := atomic.Bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if user, pass, ok := r.BasicAuth(); !ok || user != "c" || pass != "s" || r.FormValue("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		if slow.Load() {
			time.Sleep(50 * time.Millisecond)
		}
		w.Write([]byte(`{"access_token":"x"}`))
	}))
	defer srv.Close()
	c := Client{TokenURL: srv.URL, ClientID: "c", ClientSecret: "s"}

	hc := HTTPClient(4)
	cc := func(c Client, o Options) Result {
		return Run(t.Context(), "cc", o, o.Concurrency, ClientCredentials(hc, c))
	}
	r := cc(c, Options{Requests: 37, Duration: 10 * time.Second, Concurrency: 4})
	if r.Requests != 37 || hits.Load() != 37 || r.Errors != 0 || len(r.Latencies) != 37 {
		t.Fatalf("count bound: %+v, server saw %d", r, hits.Load())
	}

	// The warm-up's requests are sent but not counted.
	hits.Store(0)
	r = cc(c, Options{Requests: 37, Warmup: 100 * time.Millisecond, Duration: 10 * time.Second, Concurrency: 4})
	if r.Requests != 37 || hits.Load() <= 37 {
		t.Fatalf("warm-up: %+v, server saw %d", r, hits.Load())
	}

	slow.Store(true)
	start := time.Now()
	r = cc(c, Options{Requests: 1_000_000, Duration: 300 * time.Millisecond, Concurrency: 2})
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("time bound ignored: ran %v", el)
	}
	if r.Errors != 0 || r.Requests == 0 {
		t.Fatalf("time-bounded run: %+v", r)
	}

	bad := c
	bad.ClientSecret = "wrong"
	slow.Store(false)
	r = cc(bad, Options{Requests: 5, Duration: 5 * time.Second, Concurrency: 1})
	if r.Errors != 5 || !strings.Contains(r.FirstError, "401") {
		t.Fatalf("errors not counted: %+v", r)
	}
}

// A refresh chain uses each returned token once and stops when the chain
// breaks instead of hammering with a dead token.
func TestRefreshChains(t *testing.T) {
	var n atomic.Int64
	used := map[string]bool{}
	var mu = make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu <- struct{}{}
		defer func() { <-mu }()
		rt := r.FormValue("refresh_token")
		if used[rt] || rt == "dead" {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		used[rt] = true
		w.Write([]byte(`{"access_token":"a","refresh_token":"rt` + string(rune('a'+n.Add(1)%26)) + time.Now().Format("150405.000000000") + `"}`))
	}))
	defer srv.Close()
	c := Client{TokenURL: srv.URL, ClientID: "c", ClientSecret: "s"}
	r := Run(t.Context(), "refresh", Options{Requests: 30, Duration: 10 * time.Second}, 3,
		RefreshToken(HTTPClient(3), c, []string{"t1", "t2", "dead"}))
	if r.Errors != 1 || len(r.Latencies) != 29 {
		t.Fatalf("want the dead chain to fail once and the others to carry on: %+v", r)
	}
}
