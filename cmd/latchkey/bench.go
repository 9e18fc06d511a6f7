package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/latchkeyid/latchkey/cmd/latchkey/internal/bench"
	"github.com/latchkeyid/latchkey/provider/user"
)

// The bench's temporary fixtures. The redirect URI is never contacted: the
// code is read from the redirect itself.
const (
	benchUsername = "latchkey-bench"
	benchRedirect = "http://127.0.0.1/latchkey-bench/callback"
)

type benchCmd struct {
	URL         string        `help:"Server to measure (default: the issuer); must be on this machine." placeholder:"URL"`
	Requests    int           `default:"2000" help:"Requests per grant, at most."`
	Duration    time.Duration `default:"30s" help:"Time per grant, at most."`
	Concurrency int           `default:"8" help:"Parallel clients (for refresh_token: parallel token chains)."`
	Grant       []string      `enum:"client_credentials,refresh_token" default:"client_credentials,refresh_token" help:"Grants to measure."`
}

func (c *benchCmd) Run(a *app) error {
	target := c.URL
	if target == "" {
		target = a.cfg.Issuer
	}
	target = strings.TrimSuffix(target, "/")
	if err := bench.CheckLoopback(target); err != nil {
		return usageError{err}
	}
	if c.Requests < 1 || c.Requests > 1_000_000 || c.Concurrency < 1 || c.Concurrency > 256 ||
		c.Duration <= 0 || c.Duration > 10*time.Minute {
		return usageError{errors.New("bounds: --requests 1..1000000, --concurrency 1..256, --duration up to 10m")}
	}
	users, err := a.users()
	if err != nil {
		return err
	}
	hc := bench.HTTPClient(c.Concurrency)
	ep, err := bench.Discover(a.ctx, hc, target)
	if err != nil {
		return err
	}

	// Temporary fixtures, removed at the end whatever happens.
	clientID := "latchkey-bench-" + strings.ToLower(rand.Text()[:8])
	clientSecret := randomSecret()
	if err := a.createBenchClient(clientID, clientSecret, benchRedirect); err != nil {
		return fmt.Errorf("bench: create client: %w", err)
	}
	defer func() {
		if err := a.deleteClient(clientID); err != nil {
			fmt.Fprintf(a.stderr, "latchkey: warning: remove bench client %s: %v\n", clientID, err)
		}
	}()
	pw := randomSecret()
	u, err := a.benchUser(users, pw)
	if err != nil {
		return err
	}
	defer func() {
		svc, _, err := a.accounts()
		if err == nil {
			err = svc.Delete(a.ctx, u.ID, nil)
		}
		if err != nil {
			fmt.Fprintf(a.stderr, "latchkey: warning: remove bench user: %v\n", err)
		}
	}()

	cl := bench.Client{TokenURL: ep.Token, ClientID: clientID, ClientSecret: clientSecret}
	opts := bench.Options{Requests: c.Requests, Duration: c.Duration, Concurrency: c.Concurrency, Client: hc}
	fmt.Fprintf(a.stdout, "target %s  (GOMAXPROCS here %d; server database %s)\n", target, runtime.GOMAXPROCS(0), dbKind(a.cfg.Database))
	fmt.Fprintf(a.stdout, "bounds: %d requests or %s per grant, %d in parallel\n\n", c.Requests, c.Duration, c.Concurrency)
	fmt.Fprintln(a.stdout, bench.Header)
	var failed []string
	report := func(r bench.Result) {
		fmt.Fprintln(a.stdout, r)
		if r.Errors > 0 {
			failed = append(failed, fmt.Sprintf("%s: %d errors, first: %s", r.Grant, r.Errors, r.FirstError))
		}
	}
	if slices.Contains(c.Grant, "client_credentials") {
		report(bench.ClientCredentials(a.ctx, cl, opts))
	}
	if slices.Contains(c.Grant, "refresh_token") {
		// One token family per worker; the browser's SSO session means
		// only the first one types the password.
		browser := bench.NewBrowser(hc, benchRedirect)
		tokens := make([]string, c.Concurrency)
		for i := range tokens {
			if tokens[i], err = browser.Token(a.ctx, ep, cl, benchUsername, pw); err != nil {
				return err
			}
		}
		report(bench.RefreshToken(a.ctx, cl, tokens, opts))
	}
	if len(failed) > 0 {
		return errors.New("bench: requests failed:\n  " + strings.Join(failed, "\n  "))
	}
	return nil
}

// benchUser creates the bench user, replacing one a crashed run left.
func (a *app) benchUser(users *user.Store, pw string) (*user.User, error) {
	if old, err := users.ByLogin(a.ctx, benchUsername); err == nil {
		svc, _, err := a.accounts()
		if err != nil {
			return nil, err
		}
		if err := svc.Delete(a.ctx, old.ID, nil); err != nil {
			return nil, err
		}
	}
	u, err := users.Create(a.ctx, user.NewUser{Username: benchUsername, Email: benchUsername + "@bench.invalid",
		DisplayName: "Latchkey bench", Password: pw})
	if err != nil {
		return nil, fmt.Errorf("bench: create user: %w", err)
	}
	return u, nil
}

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func dbKind(u string) string {
	if i := strings.Index(u, "://"); i > 0 {
		return u[:i]
	}
	return "?"
}
