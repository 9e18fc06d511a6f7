// Package bench measures the token endpoint of a running Latchkey: requests
// per second and latency percentiles for the client_credentials and
// refresh_token grants. It is a load generator, not a test: `latchkey bench`
// runs it against a server on this machine (loopback only), bounded both in
// request count and in time.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	Requests    int           // total requests at most
	Duration    time.Duration // wall time at most
	Concurrency int           // parallel workers (refresh: one token chain each)
	Client      *http.Client  // nil: a keep-alive client sized for Concurrency
}

// Client is a confidential client the bench authenticates as
// (client_secret_basic).
type Client struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
}

// Result is one grant's figures.
type Result struct {
	Grant      string
	Requests   int // completed requests, successful or not
	Errors     int
	Elapsed    time.Duration
	Latencies  []time.Duration // of successful requests, sorted
	FirstError string
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
	return fmt.Sprintf("%-19s %8d %6d %9.1f %9s %9s %9s %9s", r.Grant, r.Requests, r.Errors, r.RPS(),
		ms(r.Percentile(0.50)), ms(r.Percentile(0.90)), ms(r.Percentile(0.99)), ms(r.Percentile(1)))
}

// Header is the report table's header line.
const Header = "grant               requests errors     req/s       p50       p90       p99       max"

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
	return e, nil
}

// Endpoints are the discovery fields the bench uses.
type Endpoints struct {
	Issuer        string `json:"issuer"`
	Authorization string `json:"authorization_endpoint"`
	Token         string `json:"token_endpoint"`
}

// ClientCredentials hammers the token endpoint with client_credentials.
func ClientCredentials(ctx context.Context, c Client, o Options) Result {
	form := url.Values{"grant_type": {"client_credentials"}}.Encode()
	work := func(ctx context.Context, _ int, hc *http.Client) (time.Duration, error) {
		start := time.Now()
		_, err := post(ctx, hc, c, form)
		return time.Since(start), err
	}
	return run(ctx, "client_credentials", o, o.Concurrency, work)
}

// RefreshToken runs one rotation chain per starting token: each request
// presents the refresh token the previous one returned, as a real client
// must (reuse would revoke the family). A broken chain stops its worker.
func RefreshToken(ctx context.Context, c Client, tokens []string, o Options) Result {
	chains := slices.Clone(tokens)
	work := func(ctx context.Context, w int, hc *http.Client) (time.Duration, error) {
		if chains[w] == "" {
			return 0, errChainBroken
		}
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {chains[w]}}.Encode()
		start := time.Now()
		body, err := post(ctx, hc, c, form)
		d := time.Since(start)
		if err != nil {
			chains[w] = ""
			return d, err
		}
		var tr struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal(body, &tr); err != nil || tr.RefreshToken == "" {
			chains[w] = ""
			return d, errors.New("response without a new refresh_token")
		}
		chains[w] = tr.RefreshToken
		return d, nil
	}
	return run(ctx, "refresh_token", o, len(tokens), work)
}

var errChainBroken = errors.New("refresh chain broken")

func post(ctx context.Context, hc *http.Client, c Client, form string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.TokenURL, strings.NewReader(form))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
	}
	return body, nil
}

// run drives workers until Requests are done or Duration passes.
func run(ctx context.Context, grant string, o Options, workers int,
	work func(ctx context.Context, worker int, hc *http.Client) (time.Duration, error)) Result {
	hc := o.Client
	if hc == nil {
		hc = HTTPClient(workers)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var (
		issued   atomic.Int64
		mu       sync.Mutex
		res      = Result{Grant: grant}
		wg       sync.WaitGroup
		firstErr sync.Once
	)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var n, errs int
			for ctx.Err() == nil && issued.Add(1) <= int64(o.Requests) {
				d, err := work(ctx, w, hc)
				if errors.Is(err, errChainBroken) {
					issued.Add(-1) // nothing was sent: another worker may use the slot
					break
				}
				if ctx.Err() != nil {
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
	slices.Sort(res.Latencies)
	return res
}
