package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/latchkeyid/latchkey/plugin/sender/smtp/smtptest"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/db/dbtest/galera"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// scaleOut is three `latchkey serve` processes on one MariaDB database
// behind a round-robin reverse proxy, the way a load balancer without
// stickiness spreads one browser's requests over every instance.
type scaleOut struct {
	issuer   string         // the proxy, also the issuer
	backends []*http.Client // each reaches one instance alone, at the issuer's host
	cli      *cliEnv
	sent     []atomic.Int64 // requests the proxy sent to each instance
	healthy  []atomic.Bool  // the proxy's health check: /readyz answered 200
	procs    []*process
	addrs    []string
	args     [][]string // each instance's serve arguments, to restart it
	mail     *smtptest.Server
	smtpURL  string
}

const (
	scaleClient   = "web"
	scaleSecret   = "web-secret-0123456789abcdefghijklmnopqrstuv" // #nosec G101 -- test fixture
	scaleRedirect = "https://app.example/callback"
	scaleUser     = "alice"
	scalePassword = "correct horse battery staple"
	scaleMail     = "alice.home@example.org"
	// A short key cache and publish-ahead period, so a rotation completes
	// within the test; the lead keeps its rule (at least twice the cache).
	scaleKeyRefresh = "3s"
	scaleKeyLead    = "7s"
)

// databases names the database each instance writes to, by engine: one
// MariaDB database shared by all, or a Galera cluster's nodes in turn.
var databases = []struct {
	name string
	urls func(t *testing.T) []string
}{
	{"mariadb", func(t *testing.T) []string { return []string{dbtest.URL(t, dbtest.MySQL)} }}, // skips without MariaDB unless LATCHKEY_TEST_MYSQL=required
	{"galera", func(t *testing.T) []string { return galera.Get(t).URLs(t) }},
}

// healthInterval is how often the proxy asks each instance's /readyz, as
// a load balancer's health check does.
const healthInterval = 150 * time.Millisecond

// startScaleOut starts n instances, instance i on dbURLs[i % len(dbURLs)],
// each waiting shutdownDelay after SIGTERM before it closes its listener.
func startScaleOut(t *testing.T, n int, dbURLs []string, shutdownDelay string) *scaleOut {
	t.Helper()
	clearLatchkeyEnv(t)
	dbURL := dbURLs[0]
	key := secret.Generate()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	so := &scaleOut{issuer: "http://" + ln.Addr().String(), cli: newCLIWith(t, dbURL, key), sent: make([]atomic.Int64, n), healthy: make([]atomic.Bool, n)}
	so.mail = smtptest.Start(t)
	so.smtpURL = so.mail.URL("latchkey@example.com")
	// A siteverify stand-in: the recovery start needs a CAPTCHA outside
	// dev mode, and the built-in one can only be read inside the process.
	captchaOK := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"success":true}`)
	}))
	t.Cleanup(captchaOK.Close)

	for i := range n {
		addr := "127.0.0.1:" + freePort(t)
		args := []string{"serve", "--listen", addr, "--issuer", so.issuer, "--metrics-listen", "127.0.0.1:" + freePort(t),
			"--database", dbURLs[i%len(dbURLs)], "--secret", key, "--argon2-memory", "7168", "--argon2-time", "5",
			"--shutdown-delay", shutdownDelay, "--trusted-proxies", "127.0.0.1/32",
			"--key-refresh", scaleKeyRefresh, "--key-publish-lead", scaleKeyLead, "--smtp-url", so.smtpURL,
			"--captcha", "hcaptcha", "--captcha-site-key", "site", "--captcha-secret", "captcha-secret", "--captcha-verify-url", captchaOK.URL}
		// Started together: the migration lock lets one of them migrate.
		so.procs = append(so.procs, startProcess(t, args...))
		so.addrs = append(so.addrs, addr)
		so.args = append(so.args, args)
	}
	for i := range so.procs {
		so.waitReady(t, i)
		so.healthy[i].Store(true)
		addr := so.addrs[i]
		so.backends = append(so.backends, &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		}})
	}

	var next atomic.Uint64
	targets := make([]*url.URL, n)
	for i, a := range so.addrs {
		targets[i] = &url.URL{Scheme: "http", Host: a}
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		// Round robin over the instances whose health check passed.
		i := int(next.Add(1) % uint64(n))
		for k := 0; k < n && !so.healthy[i].Load(); k++ {
			i = (i + 1) % n
		}
		so.sent[i].Add(1)
		r.SetURL(targets[i])
		r.Out.Host = r.In.Host // the issuer's host, as a load balancer keeps it
		r.SetXForwarded()
	}}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	hctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go so.healthCheck(hctx)

	so.cli.must(scalePassword+"\n", "user", "create", "--username", scaleUser, "--email", "alice@example.com", "--password-stdin")
	// Sign-ins go straight back to the app (the registration prompt is the
	// recovery tests' business).
	so.cli.must("", "policy", "set", "register_at_signin=false", "--smtp-url", so.smtpURL)
	so.cli.must("", "method", "add", "--user", scaleUser, "--type", "email", "--value", scaleMail, "--smtp-url", so.smtpURL)
	so.cli.must(scaleSecret+"\n", "client", "create", "--id", scaleClient, "--name", "Web", "--redirect-uri", scaleRedirect, "--secret-stdin")
	return so
}

// healthCheck asks every instance's /readyz each healthInterval and takes
// an instance out of the proxy's rotation while it does not answer 200.
// Each instance has its own checker, so a slow answer from one (a loaded
// CI machine) delays no other.
func (so *scaleOut) healthCheck(ctx context.Context) {
	c := &http.Client{Timeout: 2 * time.Second}
	for i, a := range so.addrs {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(healthInterval):
				}
				so.healthy[i].Store(statusOf(c, http.MethodGet, "http://"+a+"/readyz") == http.StatusOK)
			}
		}()
	}
}

func (so *scaleOut) waitReady(t *testing.T, i int) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	waitFor(t, so.procs[i], "/readyz 200", func() bool { return statusOf(c, http.MethodGet, "http://"+so.addrs[i]+"/readyz") == http.StatusOK })
}

// signIn runs code + PKCE through the proxy in a fresh browser, with the
// relying party (x/oauth2 + go-oidc) also talking to the proxy.
func (so *scaleOut) signIn(t *testing.T, ctx context.Context) (*oauth2.Config, *gooidc.IDTokenVerifier, *oauth2.Token) {
	t.Helper()
	return so.signInWith(t, ctx, scalePassword)
}

func (so *scaleOut) signInWith(t *testing.T, ctx context.Context, password string) (*oauth2.Config, *gooidc.IDTokenVerifier, *oauth2.Token) {
	t.Helper()
	a := so.authorize(t, ctx, password)
	tok, err := a.cfg.Exchange(gooidc.ClientContext(ctx, http.DefaultClient), a.code, oauth2.VerifierOption(a.pkce))
	if err != nil {
		t.Fatalf("exchange through the proxy: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(ctx, raw)
	if err != nil || idt.Nonce != a.nonce {
		t.Fatalf("ID token: %v (nonce %q)", err, idt.Nonce)
	}
	return a.cfg, a.verifier, tok
}

// authorized is a sign-in's outcome before the code is redeemed.
type authorized struct {
	cfg               *oauth2.Config
	verifier          *gooidc.IDTokenVerifier
	code, pkce, nonce string
}

// authorize signs in through the proxy up to the callback with the code.
func (so *scaleOut) authorize(t *testing.T, ctx context.Context, password string) authorized {
	t.Helper()
	ctx = gooidc.ClientContext(ctx, http.DefaultClient)
	prov, err := gooidc.NewProvider(ctx, so.issuer)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &oauth2.Config{ClientID: scaleClient, ClientSecret: scaleSecret, RedirectURL: scaleRedirect, Endpoint: prov.Endpoint(),
		Scopes: []string{gooidc.ScopeOpenID, "profile", gooidc.ScopeOfflineAccess}}
	verifier := prov.Verifier(&gooidc.Config{ClientID: scaleClient})
	state, nonce, pkce := rand32(), rand32(), oauth2.GenerateVerifier()

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if r.URL.Host == "app.example" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := browser.Get(cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce), oauth2.SetAuthURLParam("nonce", nonce)))
	if err != nil {
		t.Fatal(err)
	}
	for step := 0; resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther; step++ {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if step > 3 {
			t.Fatalf("sign-in did not return to the app; at %s (%d):\n%s", resp.Request.URL, resp.StatusCode, b)
		}
		target, vals := signInForm(t, resp, string(b), scaleUser, password)
		if resp, err = browser.PostForm(target.String(), vals); err != nil {
			t.Fatal(err)
		}
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Host != "app.example" {
		t.Fatalf("sign-in ended at %v (%v)", loc, err)
	}
	q := loc.Query()
	if q.Get("state") != state || q.Get("code") == "" || q.Get("iss") != so.issuer {
		t.Fatalf("callback %v", q)
	}
	return authorized{cfg: cfg, verifier: verifier, code: q.Get("code"), pkce: pkce, nonce: nonce}
}

// scaleRacers is how many requests race for one code or token.
const scaleRacers = 12

// race sends scaleRacers requests at once and counts their statuses; every
// loser must get invalid_grant, never a server error.
func (so *scaleOut) race(t *testing.T, send func(i int) (int, map[string]any)) map[int]int {
	t.Helper()
	var mu sync.Mutex
	codes := map[int]int{}
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range scaleRacers {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			code, m := send(i)
			mu.Lock()
			defer mu.Unlock()
			codes[code]++
			if code != http.StatusOK && m["error"] != "invalid_grant" {
				t.Errorf("a losing request got %d %v, want invalid_grant", code, m)
			}
		}()
	}
	start.Done()
	done.Wait()
	return codes
}

var eightDigits = regexp.MustCompile(`\b[0-9]{8}\b`)

func rand32() string { return secret.Generate()[:32] }

// post sends a client-authenticated form to path through c.
func (so *scaleOut) post(t *testing.T, c *http.Client, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, so.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(scaleClient, scaleSecret)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// TestScaleOutThreeInstancesOneDatabase: sign-in with code + PKCE,
// refresh rotation, revocation, a key rotation and a full email recovery,
// through a round-robin proxy in front of three serve processes on one
// MariaDB database, so consecutive requests of one browser land on
// different instances.
func TestScaleOutThreeInstancesOneDatabase(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) { testScaleOut(t, startScaleOut(t, 3, d.urls(t), "0")) })
	}
}

func testScaleOut(t *testing.T, so *scaleOut) {
	ctx := t.Context()
	proxy := &http.Client{Timeout: 30 * time.Second}
	_, verifier, tok := so.signIn(t, ctx)
	for i := range so.sent {
		if so.sent[i].Load() == 0 {
			t.Fatalf("instance %d served no request of the sign-in (%v)", i, so.sent)
		}
	}
	rt := tok.RefreshToken

	t.Run("refresh-rotation", func(t *testing.T) {
		for range 3 { // each lands on the next instance
			code, m := so.post(t, proxy, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
			if code != http.StatusOK {
				t.Fatalf("refresh through the proxy: %d %v", code, m)
			}
			raw, _ := m["id_token"].(string)
			if _, err := verifier.Verify(ctx, raw); err != nil {
				t.Fatalf("refreshed ID token: %v", err)
			}
			old := rt
			rt = m["refresh_token"].(string)
			if old == rt {
				t.Fatal("refresh token not rotated")
			}
			for i, b := range so.backends {
				if code, _ := so.post(t, b, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}}); code != http.StatusBadRequest {
					t.Fatalf("instance %d accepted a rotated-out refresh token: %d", i, code)
				}
			}
			// Reuse revokes the family: sign in again for the next round.
			_, _, tok = so.signIn(t, ctx)
			rt = tok.RefreshToken
		}
	})

	// Many redemptions of one code at once, spread over every instance
	// (on Galera each writes to another node): at most one gets tokens,
	// and the replays revoke them (RFC 6749 §4.1.2), so none stays usable.
	t.Run("code-redeemed-once", func(t *testing.T) {
		for range 3 {
			a := so.authorize(t, ctx, scalePassword)
			var issued atomic.Value
			codes := so.race(t, func(i int) (int, map[string]any) {
				code, m := so.post(t, so.backends[i%len(so.backends)], "/oauth/token", url.Values{"grant_type": {"authorization_code"},
					"code": {a.code}, "code_verifier": {a.pkce}, "redirect_uri": {scaleRedirect}})
				if code == http.StatusOK {
					issued.Store(m["access_token"])
				}
				return code, m
			})
			if codes[http.StatusOK] > 1 || codes[http.StatusOK]+codes[http.StatusBadRequest] != scaleRacers {
				t.Fatalf("one code redeemed at once %d times: statuses %v", scaleRacers, codes)
			}
			if at, _ := issued.Load().(string); at != "" {
				for i, b := range so.backends {
					if _, m := so.post(t, b, "/oauth/introspect", url.Values{"token": {at}}); m["active"] != false {
						t.Fatalf("instance %d: the replayed code's access token is still active: %v", i, m)
					}
				}
			}
		}
	})

	// Many rotations of one refresh token at once: exactly one succeeds,
	// and the reuse revokes the family, the winner's new token with it.
	t.Run("refresh-rotated-once", func(t *testing.T) {
		for range 3 {
			_, _, tok := so.signIn(t, ctx)
			var won atomic.Value
			codes := so.race(t, func(i int) (int, map[string]any) {
				code, m := so.post(t, so.backends[i%len(so.backends)], "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
				if code == http.StatusOK {
					won.Store(m["refresh_token"])
				}
				return code, m
			})
			if codes[http.StatusOK] != 1 || codes[http.StatusBadRequest] != scaleRacers-1 {
				t.Fatalf("one refresh token rotated at once %d times: statuses %v", scaleRacers, codes)
			}
			next, _ := won.Load().(string)
			for i, b := range so.backends {
				if code, m := so.post(t, b, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next}}); code != http.StatusBadRequest || m["error"] != "invalid_grant" {
					t.Fatalf("instance %d accepted the winner's token after the reuse: %d %v", i, code, m)
				}
			}
		}
	})

	t.Run("revocation-seen-by-every-instance", func(t *testing.T) {
		at := tok.AccessToken
		for i, b := range so.backends {
			if _, m := so.post(t, b, "/oauth/introspect", url.Values{"token": {at}}); m["active"] != true {
				t.Fatalf("instance %d does not know the access token: %v", i, m)
			}
		}
		if code, _ := so.post(t, proxy, "/revoke", url.Values{"token": {at}, "token_type_hint": {"access_token"}}); code != http.StatusOK {
			t.Fatalf("revoke through the proxy: %d", code)
		}
		for i, b := range so.backends {
			if _, m := so.post(t, b, "/oauth/introspect", url.Values{"token": {at}}); m["active"] != false {
				t.Fatalf("instance %d still reports the revoked token active: %v", i, m)
			}
		}
		if code, _ := so.post(t, proxy, "/revoke", url.Values{"token": {rt}, "token_type_hint": {"refresh_token"}}); code != http.StatusOK {
			t.Fatalf("revoke refresh token through the proxy: %d", code)
		}
		for i, b := range so.backends {
			if code, _ := so.post(t, b, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}); code != http.StatusBadRequest {
				t.Fatalf("instance %d accepted a revoked refresh token: %d", i, code)
			}
		}
	})

	t.Run("key-rotation-on-one-instance", func(t *testing.T) {
		_, _, tok := so.signIn(t, ctx)
		rt := tok.RefreshToken
		// idToken refreshes on instance i alone.
		idToken := func(i int) string {
			t.Helper()
			code, m := so.post(t, so.backends[i], "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
			if code != http.StatusOK {
				t.Fatalf("refresh on instance %d: %d %v", i, code, m)
			}
			rt = m["refresh_token"].(string)
			return m["id_token"].(string)
		}
		kidOf := func(raw string) string {
			jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
			if err != nil {
				t.Fatal(err)
			}
			return jws.Signatures[0].Header.KeyID
		}
		old := kidOf(idToken(0))
		out := so.cli.must("", "keys", "rotate", "--alg", "RS256", "--key-refresh", scaleKeyRefresh, "--key-publish-lead", scaleKeyLead)
		if !strings.Contains(out, "RS256 signs with") {
			t.Fatalf("rotate: %s", out)
		}
		// Sample until every instance signs with the new key: at every
		// moment every ID token issued so far verifies against every
		// instance's /keys, fetched afresh as a relying party's refetch
		// may land anywhere. The bound only stops a wedged run.
		type issued struct {
			by  int
			raw string
		}
		seen := map[string]issued{}
		signedNew := make([]bool, len(so.backends))
		deadline := time.Now().Add(45 * time.Second)
		for done := false; !done; {
			if time.Now().After(deadline) {
				t.Fatalf("not every instance signs with the rotated key: %v", signedNew)
			}
			done = true
			for i := range so.backends {
				raw := idToken(i)
				kid := kidOf(raw)
				if kid != old {
					signedNew[i] = true
				}
				done = done && signedNew[i]
				if k := fmt.Sprint(kid, "/", i); seen[k].raw == "" {
					seen[k] = issued{by: i, raw: raw}
				}
			}
			for j, b := range so.backends {
				rctx := gooidc.ClientContext(ctx, b)
				v := gooidc.NewVerifier(so.issuer, gooidc.NewRemoteKeySet(rctx, so.issuer+"/keys"), &gooidc.Config{ClientID: scaleClient})
				for _, tk := range seen {
					if _, err := v.Verify(rctx, tk.raw); err != nil {
						t.Fatalf("instance %d's /keys does not verify an ID token instance %d issued: %v", j, tk.by, err)
					}
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		if len(seen) < 2*len(so.backends) {
			t.Errorf("expected tokens under the old and the new key from every instance, got %d", len(seen))
		}
	})

	t.Run("email-recovery", func(t *testing.T) {
		const newPass = "tangerine lighthouse over quiet meadows"
		ids := methodIDs(so.cli.must("", "method", "list", "--user", scaleUser, "--smtp-url", so.smtpURL))
		if len(ids["email"]) != 1 {
			t.Fatalf("email method: %v", ids)
		}
		jar, _ := cookiejar.New(nil)
		b := &http.Client{Jar: jar, Timeout: 30 * time.Second}
		resp, body := get(t, b, so.issuer+"/recover")
		resp, body = submit(t, b, resp, body, "/recover", url.Values{"username": {scaleUser}, "h-captcha-response": {"solved"}})
		resp, body = submit(t, b, resp, body, resp.Request.URL.Path, url.Values{"intent": {"reset"}})
		resp, body = submit(t, b, resp, body, "/method", url.Values{"enrollment": {ids["email"][0]}})
		if !strings.HasSuffix(resp.Request.URL.Path, "/verify") {
			t.Fatalf("choosing email led to %s (%d):\n%s", resp.Request.URL, resp.StatusCode, body)
		}
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		m, err := so.mail.WaitMatch(wctx, scaleMail, func(m smtptest.Message) bool { return eightDigits.MatchString(m.Text) })
		if err != nil {
			t.Fatal(err)
		}
		resp, body = submit(t, b, resp, body, "/verify", url.Values{"code": {eightDigits.FindString(m.Text)}})
		if !strings.HasSuffix(resp.Request.URL.Path, "/password") {
			t.Fatalf("the mailed code led to %s (%d):\n%s", resp.Request.URL, resp.StatusCode, body)
		}
		resp, body = submit(t, b, resp, body, "/password", url.Values{"password": {newPass}, "confirm": {newPass}})
		if resp.StatusCode != http.StatusOK || strings.Contains(body, `class="error"`) || strings.HasSuffix(resp.Request.URL.Path, "/password") {
			t.Fatalf("new password refused at %s (%d):\n%s", resp.Request.URL, resp.StatusCode, body)
		}
		// Every instance takes the new password (the proxy spreads the
		// sign-in's requests over them).
		for range so.backends {
			so.signInWith(t, ctx, newPass)
		}
	})
}
