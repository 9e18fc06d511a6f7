// Package bench is the load generator behind `latchkey bench`: scenarios
// (discovery, JWKS, token grants, introspection, userinfo, whole sign-ins and
// recoveries) run against a server on this machine (loopback only), bounded
// in request count and in time, with requests per second, latency
// percentiles and, when the server's process is visible here, its CPU time
// and peak RSS. It also measures the ceilings that bound those scenarios
// (signatures, password hashing, fsync).
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options bound a run.
type Options struct {
	Requests    int           // total requests at most (the warm-up is not counted)
	Duration    time.Duration // wall time at most
	Warmup      time.Duration // run this long first and discard the figures
	Concurrency int           // parallel workers (refresh: one token chain each)
	Client      *http.Client  // nil: a keep-alive client sized for Concurrency
	Server      *Process      // the server's process, to report its CPU and RSS; nil: not reported
}

// Client is a confidential client the bench authenticates as
// (client_secret_basic).
type Client struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
}

// Result is one scenario's figures.
type Result struct {
	Scenario   string
	Target     string // which server: "A" (the one measured) or "B" (--compare)
	Requests   int    // completed requests, successful or not
	Errors     int
	Elapsed    time.Duration
	Latencies  []time.Duration // of successful requests, sorted
	FirstError string
	Usage      *Usage // the server's CPU time and peak RSS; nil when not known
}

// PerCPUSecond is successful requests per second of the server's CPU
// time (0 when unknown): what one core of the server would sustain, and
// far steadier than RPS on a shared machine.
func (r Result) PerCPUSecond() float64 {
	if r.Usage == nil || r.Usage.CPU <= 0 {
		return 0
	}
	return float64(len(r.Latencies)) / r.Usage.CPU.Seconds()
}

// RPS is successful requests per second.
func (r Result) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(len(r.Latencies)) / r.Elapsed.Seconds()
}

// Percentile returns the latency below which fraction p (0..1) of the
// successful requests fall (nearest-rank).
func (r Result) Percentile(p float64) time.Duration {
	n := len(r.Latencies)
	if n == 0 {
		return 0
	}
	rank := int(p*float64(n)+0.999999) - 1
	return r.Latencies[min(max(rank, 0), n-1)]
}

// String is one line of the report table.
func (r Result) String() string {
	cpu, perReq, rss := "-", "-", "-"
	if u := r.Usage; u != nil {
		cpu = fmt.Sprintf("%.2f", u.CPU.Seconds())
		if n := len(r.Latencies); n > 0 {
			perReq = fmt.Sprintf("%.0fus", float64(u.CPU.Microseconds())/float64(n))
		}
		rss = fmt.Sprintf("%.1fMiB", float64(u.PeakRSS)/(1<<20))
	}
	return fmt.Sprintf("%-13s %-2s %8d %6d %9.1f %9s %9s %9s %9s %6s %8s %9s", r.Scenario, r.Target, r.Requests, r.Errors, r.RPS(),
		ms(r.Percentile(0.50)), ms(r.Percentile(0.90)), ms(r.Percentile(0.99)), ms(r.Percentile(1)), cpu, perReq, rss)
}

// Header is the report table's header line: cpu-s is the server's CPU
// seconds during the measured part, cpu/req per successful request, and
// peak-rss its peak resident set in that part.
const Header = "scenario      on requests errors     req/s       p50       p90       p99       max  cpu-s  cpu/req  peak-rss"

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

// ErrNotLoopback refuses targets off this machine: a load generator must not
// be pointed at someone else's production server by a typo.
var ErrNotLoopback = errors.New("bench: target must be a loopback address (localhost, 127.0.0.0/8 or ::1)")

// CheckLoopback accepts only http(s) URLs whose host is localhost or a
// loopback IP literal; names are not resolved.
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("bench: %q is not an http(s) URL", raw)
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
		return nil
	}
	return ErrNotLoopback
}

// HTTPClient returns a keep-alive client for n workers that refuses to
// connect anywhere but loopback, whatever a redirect says.
func HTTPClient(n int) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip, err := netip.ParseAddr(host); err == nil && !ip.IsLoopback() {
				return nil, ErrNotLoopback
			}
			if err == nil {
				return dialer.DialContext(ctx, network, addr)
			}
			if !strings.EqualFold(host, "localhost") {
				return nil, ErrNotLoopback
			}
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConns:        n * 2,
		MaxIdleConnsPerHost: n * 2,
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// Discover returns the endpoints of the issuer's discovery document.
func Discover(ctx context.Context, hc *http.Client, issuer string) (Endpoints, error) {
	var e Endpoints
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return e, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return e, fmt.Errorf("bench: discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return e, fmt.Errorf("bench: discovery: HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e); err != nil {
		return e, fmt.Errorf("bench: discovery: %w", err)
	}
	if e.Token == "" || e.Authorization == "" {
		return e, errors.New("bench: discovery document lacks token or authorization endpoint")
	}
	e.Discovery = req.URL.String()
	return e, nil
}

// Endpoints are the discovery fields the bench uses.
type Endpoints struct {
	Discovery     string `json:"-"`
	Issuer        string `json:"issuer"`
	Authorization string `json:"authorization_endpoint"`
	Token         string `json:"token_endpoint"`
	JWKS          string `json:"jwks_uri"`
	Introspection string `json:"introspection_endpoint"`
	Userinfo      string `json:"userinfo_endpoint"`
}

// Work is one request (or one whole flow) of a scenario, done by worker
// w. It returns ErrDone when that worker has nothing left to do (a broken
// refresh chain, a used-up user pool): nothing was sent.
type Work func(ctx context.Context, w int) error

// ErrDone stops a worker without counting a request.
var ErrDone = errors.New("bench: worker done")

// Run drives workers doing work: first for the warm-up, discarded, then
// until Requests are done or Duration passes.
func Run(ctx context.Context, scenario string, o Options, workers int, work Work) Result {
	if o.Warmup > 0 {
		warm := o
		warm.Duration, warm.Requests, warm.Server = o.Warmup, math.MaxInt, nil
		measure(ctx, scenario, warm, workers, work)
	}
	return measure(ctx, scenario, o, workers, work)
}

func measure(ctx context.Context, scenario string, o Options, workers int, work Work) Result {
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var (
		issued   atomic.Int64
		mu       sync.Mutex
		res      = Result{Scenario: scenario, Target: "A"}
		wg       sync.WaitGroup
		firstErr sync.Once
	)
	watch := o.Server.watch()
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var n, errs int
			for ctx.Err() == nil && issued.Add(1) <= int64(o.Requests) {
				t0 := time.Now()
				err := work(ctx, w)
				d := time.Since(t0)
				if errors.Is(err, ErrDone) {
					issued.Add(-1) // nothing was sent: another worker may use the slot
					break
				}
				if err != nil && ctx.Err() != nil {
					break // cut off by the time bound: not a server error
				}
				n++
				if err != nil {
					errs++
					firstErr.Do(func() { mu.Lock(); res.FirstError = err.Error(); mu.Unlock() })
					continue
				}
				lat = append(lat, d)
			}
			mu.Lock()
			res.Requests += n
			res.Errors += errs
			res.Latencies = append(res.Latencies, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Usage = watch.stop()
	slices.Sort(res.Latencies)
	return res
}
