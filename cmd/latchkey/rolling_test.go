package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchkeyid/latchkey/plugin/sender/smtp/smtptest"
)

const (
	loadClients  = 8
	svcClient    = "svc"
	svcSecret    = "svc-secret-0123456789abcdefghijklmnopqrstuv" // #nosec G101 -- test fixture
	rollingDelay = "1s"                                          // LATCHKEY_SHUTDOWN_DELAY, well above healthInterval
)

// loadSeconds is how long the load runs: LATCHKEY_TEST_LOAD_SECONDS, or a short
// but real default for CI.
func loadSeconds(t *testing.T, def int) time.Duration {
	if v := os.Getenv("LATCHKEY_TEST_LOAD_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("LATCHKEY_TEST_LOAD_SECONDS=%q", v)
		}
		return time.Duration(n) * time.Second
	}
	return time.Duration(def) * time.Second
}

// loadResult counts what the clients saw.
type loadResult struct {
	signIns, grants atomic.Int64
	recoveries      atomic.Int64
	failed          atomic.Int64 // requests that got a transport error or a 5xx
	lost            atomic.Int64 // sign-ins or grants that did not complete
	mu              sync.Mutex
	errs            []string
}

func (r *loadResult) fail(err error) {
	r.lost.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) < 10 {
		r.errs = append(r.errs, err.Error())
	}
}

// counting counts failed requests, as a load balancer's error rate does.
type counting struct {
	next http.RoundTripper
	r    *loadResult
}

func (c counting) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil || resp.StatusCode >= 500 {
		c.r.failed.Add(1)
		what := fmt.Sprint(err)
		if err == nil {
			what = fmt.Sprintf("%s %s: %d", req.Method, req.URL.Path, resp.StatusCode)
		}
		c.r.mu.Lock()
		if len(c.r.errs) < 10 {
			c.r.errs = append(c.r.errs, what)
		}
		c.r.mu.Unlock()
	}
	return resp, err //nolint:wrapcheck // the transport's own error
}

// runLoad has loadClients clients do full sign-ins (authorize, form, code,
// token with PKCE) and client-credentials grants through the proxy until
// ctx ends.
func (so *scaleOut) runLoad(t *testing.T, ctx context.Context, recoverers []recoverer, every time.Duration) *loadResult {
	t.Helper()
	r := &loadResult{}
	tr := counting{next: &http.Transport{MaxIdleConnsPerHost: loadClients}, r: r}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	octx := gooidc.ClientContext(context.Background(), hc)
	prov, err := gooidc.NewProvider(octx, so.issuer)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &oauth2.Config{ClientID: scaleClient, ClientSecret: scaleSecret, RedirectURL: scaleRedirect, Endpoint: prov.Endpoint(),
		Scopes: []string{gooidc.ScopeOpenID, "profile"}}
	var wg sync.WaitGroup
	// One more client runs the recoveries, one every so often, so some
	// are in progress while an instance stops.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, rec := range recoverers {
			began := time.Now()
			if ctx.Err() != nil {
				return
			}
			if err := so.loadRecovery(context.Background(), tr, rec); err != nil {
				r.fail(err)
			} else {
				r.recoveries.Add(1)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(began.Add(every))):
			}
		}
	}()
	for c := range loadClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := c; ctx.Err() == nil; n++ {
				var err error
				if n%2 == 0 {
					if err = so.loadSignIn(octx, cfg, tr); err == nil {
						r.signIns.Add(1)
					}
				} else if err = so.loadGrant(hc); err == nil {
					r.grants.Add(1)
				}
				if err != nil {
					r.fail(err)
				}
			}
		}()
	}
	wg.Wait()
	return r
}

// loadSignIn is one browser's sign-in and the relying party's exchange.
func (so *scaleOut) loadSignIn(ctx context.Context, cfg *oauth2.Config, tr http.RoundTripper) error {
	state, pkce := rand32(), oauth2.GenerateVerifier()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if r.URL.Host == "app.example" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := browser.Get(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("nonce", rand32())))
	if err != nil {
		return err
	}
	for step := 0; resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther; step++ {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if step > 3 {
			return fmt.Errorf("sign-in did not return to the app; at %s (%d)", resp.Request.URL, resp.StatusCode)
		}
		target, vals, err := parseSignInForm(resp, string(b), scaleUser, scalePassword)
		if err != nil {
			return err
		}
		if resp, err = browser.PostForm(target.String(), vals); err != nil {
			return err
		}
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("state") != state || loc.Query().Get("code") == "" {
		return fmt.Errorf("sign-in ended at %v (%v)", loc, err)
	}
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		return fmt.Errorf("exchange: %w", err)
	}
	if raw, _ := tok.Extra("id_token").(string); raw == "" {
		return errors.New("no ID token")
	}
	return nil
}

// recoverer is a user whose email recovery the load runs once.
type recoverer struct{ name, mail, enrollment string }

// addRecoverers creates n users with an email method each.
func (so *scaleOut) addRecoverers(n int) []recoverer {
	var rs []recoverer
	for i := range n {
		r := recoverer{name: fmt.Sprintf("rec%d", i), mail: fmt.Sprintf("rec%d@example.org", i)}
		so.cli.must(scalePassword+"\n", "user", "create", "--username", r.name, "--email", r.mail, "--password-stdin")
		so.cli.must("", "method", "add", "--user", r.name, "--type", "email", "--value", r.mail, "--smtp-url", so.smtpURL)
		r.enrollment = methodIDs(so.cli.must("", "method", "list", "--user", r.name, "--smtp-url", so.smtpURL))["email"][0]
		rs = append(rs, r)
	}
	return rs
}

// loadRecovery is one full email recovery: start, CAPTCHA, choose the
// method, the mailed code, a new password.
func (so *scaleOut) loadRecovery(ctx context.Context, tr http.RoundTripper, r recoverer) error {
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second}
	resp, err := b.Get(so.issuer + "/recover")
	if err != nil {
		return err
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(raw)
	steps := []struct {
		action string
		set    url.Values
	}{
		{"/recover", url.Values{"username": {r.name}, "h-captcha-response": {"solved"}}},
		{"", url.Values{"intent": {"reset"}}}, // the page's own path
		{"/method", url.Values{"enrollment": {r.enrollment}}},
	}
	for _, s := range steps {
		action := s.action
		if action == "" {
			action = resp.Request.URL.Path
		}
		if resp, body, err = submitForm(b, resp, body, action, s.set); err != nil {
			return fmt.Errorf("recovery of %s: %w", r.name, err)
		}
	}
	if !strings.HasSuffix(resp.Request.URL.Path, "/verify") {
		return fmt.Errorf("recovery of %s: choosing email led to %s (%d)", r.name, resp.Request.URL, resp.StatusCode)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	m, err := so.mail.WaitMatch(wctx, r.mail, func(m smtptest.Message) bool { return eightDigits.MatchString(m.Text) })
	if err != nil {
		return fmt.Errorf("recovery of %s: no code mailed: %w", r.name, err)
	}
	if resp, body, err = submitForm(b, resp, body, "/verify", url.Values{"code": {eightDigits.FindString(m.Text)}}); err != nil {
		return fmt.Errorf("recovery of %s: %w", r.name, err)
	}
	if !strings.HasSuffix(resp.Request.URL.Path, "/password") {
		return fmt.Errorf("recovery of %s: the mailed code led to %s (%d)", r.name, resp.Request.URL, resp.StatusCode)
	}
	const newPass = "tangerine lighthouse over quiet meadows"
	if resp, body, err = submitForm(b, resp, body, "/password", url.Values{"password": {newPass}, "confirm": {newPass}}); err != nil {
		return fmt.Errorf("recovery of %s: %w", r.name, err)
	}
	if resp.StatusCode != http.StatusOK || strings.Contains(body, `class="error"`) || strings.HasSuffix(resp.Request.URL.Path, "/password") {
		return fmt.Errorf("recovery of %s: new password refused at %s (%d)", r.name, resp.Request.URL, resp.StatusCode)
	}
	return nil
}

// loadGrant is one client-credentials grant.
func (so *scaleOut) loadGrant(hc *http.Client) error {
	req, _ := http.NewRequest(http.MethodPost, so.issuer+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(svcClient, svcSecret)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("client credentials: %d", resp.StatusCode)
	}
	return nil
}

// retries sums latchkey_db_retries_total on instance i's metrics listener.
func (so *scaleOut) retries(i int) float64 {
	addr := so.args[i][slices.Index(so.args[i], "--metrics-listen")+1]
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var total float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "latchkey_db_retries_total{") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			total += v
		}
	}
	return total
}

// restart stops instance i with SIGTERM, as a rolling update does, waits
// for it to exit cleanly and starts a new process on the same address.
func (so *scaleOut) restart(t *testing.T, i int) {
	t.Helper()
	p := so.procs[i]
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("instance %d after SIGTERM: %v\n%s", i, p.err, p.stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("instance %d did not exit after SIGTERM", i)
	}
	so.procs[i] = startProcess(t, so.args[i]...)
	so.waitReady(t, i)
}

// TestRollingRestart restarts each of three instances in turn with SIGTERM
// while eight clients sign in and take client-credentials grants through a
// proxy that health-checks /readyz: with LATCHKEY_SHUTDOWN_DELAY above the
// check's interval, no request fails and no flow is lost, the flows in
// progress on a stopping instance continuing on the others.
// LATCHKEY_TEST_LOAD_SECONDS=30 makes it the measurement the README quotes.
func TestRollingRestart(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			so := startScaleOut(t, 3, d.urls(t), rollingDelay)
			so.cli.must(svcSecret+"\n", "client", "create", "--id", svcClient, "--name", "Service", "--grant", "client_credentials", "--secret-stdin")
			dur := loadSeconds(t, 8)
			recoverers := so.addRecoverers(3)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			began := time.Now()
			var r *loadResult
			loadDone := make(chan struct{})
			go func() { r = so.runLoad(t, ctx, recoverers, dur/time.Duration(len(recoverers))); close(loadDone) }()

			var retries float64
			// The restarts spread over the run; the load goes on at least
			// a moment after the last.
			pause := dur / time.Duration(len(so.procs)+1)
			for i := range so.procs {
				time.Sleep(pause)
				retries += so.retries(i)
				so.restart(t, i)
			}
			time.Sleep(time.Until(began.Add(dur)) + time.Second)
			cancel()
			<-loadDone
			for i := range so.procs {
				retries += so.retries(i)
			}
			took := time.Since(began)
			t.Logf("rolling restart on %s: %d clients for %v, 3 restarts: %d sign-ins, %d client-credentials grants, %d email recoveries, %d failed requests, %d lost flows, %v conflict retries",
				d.name, loadClients, took.Round(time.Second), r.signIns.Load(), r.grants.Load(), r.recoveries.Load(), r.failed.Load(), r.lost.Load(), retries)
			if r.failed.Load() != 0 || r.lost.Load() != 0 {
				t.Errorf("%d failed requests, %d lost flows; first errors:\n%s", r.failed.Load(), r.lost.Load(), strings.Join(r.errs, "\n"))
				for i, p := range so.procs {
					for _, l := range strings.Split(p.stderr.String(), "\n") {
						if strings.Contains(l, "ERROR") || strings.Contains(l, "level=error") || strings.Contains(l, "\"error\"") {
							t.Logf("instance %d: %s", i, l)
						}
					}
				}
			}
			if r.signIns.Load() == 0 || r.grants.Load() == 0 || r.recoveries.Load() == 0 {
				t.Errorf("the load did not run: %d sign-ins, %d grants, %d recoveries", r.signIns.Load(), r.grants.Load(), r.recoveries.Load())
			}
		})
	}
}

// TestScaleOutThroughput measures sign-ins per second through the proxy
// with one and with three instances, on MariaDB and on Galera, under the
// same load; only with LATCHKEY_TEST_SCALE_BENCH=1 (a measurement, not a check).
func TestScaleOutThroughput(t *testing.T) {
	if os.Getenv("LATCHKEY_TEST_SCALE_BENCH") != "1" {
		t.Skip("a measurement: set LATCHKEY_TEST_SCALE_BENCH=1 (and LATCHKEY_TEST_LOAD_SECONDS)")
	}
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			var rates []float64
			for _, n := range []int{1, 3} {
				so := startScaleOut(t, n, d.urls(t), "0")
				so.cli.must(svcSecret+"\n", "client", "create", "--id", svcClient, "--name", "Service", "--grant", "client_credentials", "--secret-stdin")
				ctx, cancel := context.WithTimeout(t.Context(), loadSeconds(t, 20))
				began := time.Now()
				r := so.runLoad(t, ctx, nil, 0)
				cancel()
				took := time.Since(began).Seconds()
				rate := float64(r.signIns.Load()) / took
				rates = append(rates, rate)
				t.Logf("%s, %d instance(s): %d sign-ins in %.1f s = %.1f/s; %.1f client-credentials grants/s; %d failed requests",
					d.name, n, r.signIns.Load(), took, rate, float64(r.grants.Load())/took, r.failed.Load())
			}
			t.Logf("%s: three instances sign in %.2fx as many per second as one", d.name, rates[1]/rates[0])
		})
	}
}
