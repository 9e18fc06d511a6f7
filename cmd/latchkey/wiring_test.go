package main

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/authenticator"
	"github.com/latchkeyid/latchkey/plugin/compose"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/plugin/sender/outbox"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/clocktest"
	"github.com/latchkeyid/latchkey/provider/config"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// servedPhones builds the phone methods through serve's own wiring
// (ssprConfig and compose) on c's database and secret, in dev mode so the outbox
// delivers, with the settings changed by mutate.
func servedPhones(t *testing.T, c *cliEnv, url string, mutate func(*config.Config)) (map[method.Name]*phone.Method, *outbox.Outbox) {
	t.Helper()
	cfg := config.Defaults()
	cfg.Database, cfg.Secret, cfg.DefaultRegion, cfg.Dev = url, c.secret, "US", true
	if mutate != nil {
		mutate(&cfg)
	}
	a := &app{ctx: t.Context(), cfg: cfg, stderr: io.Discard}
	t.Cleanup(a.close)
	k, err := a.keyring()
	if err != nil {
		t.Fatal(err)
	}
	g, err := a.database()
	if err != nil {
		t.Fatal(err)
	}
	users, err := a.users()
	if err != nil {
		t.Fatal(err)
	}
	c2, box, err := (&server{a: a, log: slog.New(slog.DiscardHandler)}).ssprConfig(g, k, users, audit.NewLog(g))
	if err != nil {
		t.Fatal(err)
	}
	sspr, err := compose.Methods(c2)
	if err != nil || len(sspr.Phones) == 0 {
		t.Fatalf("phone methods %v, %v", sspr, err)
	}
	return sspr.Phones, box
}

// phoneSetup is the served mobile phone and its outbox.
func phoneSetup(t *testing.T, c *cliEnv, url string, mutate func(*config.Config)) (*phone.Method, *outbox.Outbox) {
	t.Helper()
	phones, box := servedPhones(t, c, url, mutate)
	return phones[method.Mobile], box
}

// The phone methods serve builds read the policy's phone_countries at each
// registration: a German number is refused until `policy set` adds DE,
// and an empty list falls back to LATCHKEY_DEFAULT_REGION (checklist 51).
func TestPhoneAllowlistFromPolicy(t *testing.T) {
	clearLatchkeyEnv(t)
	dbtest.Each(t, func(t *testing.T, url string) {
		c := newCLI(t, url)
		ctx := t.Context()
		mobile, box := phoneSetup(t, c, url, nil)
		register := func(user, number string) error {
			_, err := mobile.Begin(ctx, "flow-"+user, method.Ref{ID: user, Username: user}, method.Input{"phone": number, "channel": "sms"})
			return err
		}
		const de, us = "+49 1512 3456789", "+1 201 555 0123"
		var ie *method.InvalidError
		if err := register("u1", de); !errors.As(err, &ie) || ie.Field != "phone" {
			t.Fatalf("German number with the default allowlist: %v, want refused", err)
		}
		if n := len(box.To("+4915123456789")); n != 0 {
			t.Fatalf("%d messages sent to a refused number", n)
		}
		if err := register("u2", us); err != nil {
			t.Fatalf("number of the deployment's region: %v", err)
		}
		c.must("", "policy", "set", "phone_countries=US,DE")
		if err := register("u3", de); err != nil {
			t.Fatalf("German number once DE is allowed: %v", err)
		}
		if box.Code("+4915123456789") == "" {
			t.Fatal("no code sent to the German number")
		}
		c.must("", "policy", "set", "phone_countries=FR")
		if err := register("u4", us); !errors.As(err, &ie) {
			t.Fatalf("US number outside the policy's list: %v, want refused", err)
		}
		c.must("", "policy", "set", "phone_countries=")
		if err := register("u5", de); !errors.As(err, &ie) {
			t.Fatalf("German number after emptying the list: %v, want refused", err)
		}
	})
}

// LATCHKEY_PHONE_LIMIT_* reach the guard serve builds; their defaults are
// phone.DefaultLimits.
func TestPhoneLimitsFromConfig(t *testing.T) {
	clearLatchkeyEnv(t)
	if got := phoneLimits(config.Defaults().Phone()); !reflect.DeepEqual(*got, phone.DefaultLimits) {
		t.Fatalf("default settings give %+v, want phone.DefaultLimits %+v", *got, phone.DefaultLimits)
	}
	url := dbtest.URL(t, dbtest.SQLite)
	c := newCLI(t, url)
	mobile, _ := phoneSetup(t, c, url, func(cfg *config.Config) { cfg.PhoneLimitUser = "2/1h" })
	var err error
	sent := 0
	for i := range 3 {
		_, err = mobile.Begin(t.Context(), fmt.Sprint("flow-", i), method.Ref{ID: "u", Username: "u"},
			method.Input{"phone": fmt.Sprint("+1 201 555 014", i), "channel": "sms"})
		if err != nil {
			break
		}
		sent++
	}
	var le *phone.LimitError
	if sent != 2 || !errors.As(err, &le) || le.Limit != "user" {
		t.Fatalf("%d codes sent, then %v; want 2 and the per-user limit", sent, err)
	}
}

// TestPushAgainstServe checks serve's push wiring: the fraud-report block
// follows the policy (0 = none, else push_report_block_minutes), place
// names come from --push-networks, and shutdown waits for a Web Push
// delivery still in flight before the database closes.
func TestPushAgainstServe(t *testing.T) {
	clearLatchkeyEnv(t)
	// A push service on loopback that holds each delivery until released.
	release := make(chan struct{})
	arrived := make(chan struct{}, 4)
	ps := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(ps.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	clk := clocktest.At(time.Now()) // serve's push clock
	var serveM *push.Method
	var mu sync.Mutex
	var delivered []int
	pushConfigHook = func(c *push.Config) {
		c.Now, c.WebPushClient = clk.Now, ps.Client()
		c.OnWebPush = func(_ string, status int, _ error) {
			if status != 0 { // 0: no subscription yet, nothing sent
				mu.Lock()
				delivered = append(delivered, status)
				mu.Unlock()
			}
		}
	}
	pushHook = func(m *push.Method) { serveM = m }
	t.Cleanup(func() { pushConfigHook, pushHook = nil, nil })

	dir := filepath.Join(t.TempDir(), "data")
	dbURL := "sqlite://" + filepath.Join(dir, "latchkey.db")
	common := []string{"--dev", "--data-dir", dir, "--database", dbURL, "--argon2-memory", "7168", "--argon2-time", "5"}
	srv := startServe(t, append(common, "--push-networks", "10.0.0.0/8=Head office, Berlin;10.9.0.0/16=Lab")...)
	ctx := t.Context()
	policySet := func(kv string) {
		t.Helper()
		if code, out, errs := cmdRun(t, "", append([]string{"policy", "set", kv}, common...)...); code != exitOK {
			t.Fatalf("policy set %s: exit %d %s %s", kv, code, out, errs)
		}
	}
	g := dbtest.Open(t, dbURL)
	var u struct{ ID, Username string }
	if err := g.Table("users").Select("id", "username").Where("username = ?", devUsername).Take(&u).Error; err != nil {
		t.Fatalf("demo user: %v", err)
	}
	ref := method.Ref{ID: u.ID, Username: u.Username}
	store := method.NewStore(g)
	cli := &authenticator.Client{Now: clk.Now} // the device's clock is the server's
	p, err := serveM.Begin(ctx, "reg", ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := cli.Enroll(ctx, p.Prompt.Link, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	en, res, err := serveM.Finish(ctx, "reg", ref, p, method.Input{push.FieldCode: dev.PairingCode})
	if err != nil || !res.OK {
		t.Fatalf("Finish = %+v, %v", res, err)
	}
	if err := store.Add(ctx, &en, 0); err != nil {
		t.Fatal(err)
	}
	from := func(ip string) method.Challenge {
		t.Helper()
		c, err := serveM.Challenge(method.WithRequest(ctx, method.Request{IP: ip}), rand.Text(), ref, en)
		if err != nil {
			t.Fatalf("Challenge from %s: %v", ip, err)
		}
		return c
	}
	report := func(c method.Challenge) {
		t.Helper()
		if got, err := cli.Decide(ctx, dev, c.ID, push.Report, ""); err != nil || got != "reported" {
			t.Fatalf("report = %q, %v", got, err)
		}
	}

	t.Run("place-names-from-push-networks", func(t *testing.T) {
		for ip, want := range map[string]string{"10.9.1.2": "Lab", "10.1.2.3": "Head office, Berlin", "192.168.1.5": "Internal network"} {
			c := from(ip)
			reqs, err := cli.Pending(ctx, dev, 0)
			if err != nil || len(reqs) == 0 || reqs[len(reqs)-1].Place != want {
				t.Fatalf("from %s: pending %+v, %v; want place %q", ip, reqs, err, want)
			}
			if _, err := cli.Decide(ctx, dev, c.ID, push.Deny, ""); err != nil {
				t.Fatal(err)
			}
		}
		clk.Advance(push.Window) // the three pushes above filled the window
	})

	t.Run("report-does-not-block-when-policy-says-0", func(t *testing.T) {
		policySet("push_report_block_minutes=0")
		report(from("10.1.2.3"))
		from("10.1.2.3") // not ErrBlocked
		clk.Advance(push.Window)
	})

	t.Run("report-blocks-for-the-policy's-minutes", func(t *testing.T) {
		policySet("push_report_block_minutes=30")
		report(from("10.1.2.3"))
		for _, step := range []time.Duration{0, 29 * time.Minute} {
			clk.Advance(step)
			if _, err := serveM.Challenge(ctx, rand.Text(), ref, en); !errors.Is(err, push.ErrBlocked) {
				t.Fatalf("push %s after the report: %v, want ErrBlocked", step, err)
			}
		}
		clk.Advance(time.Minute)
		from("10.1.2.3")
	})

	t.Run("shutdown-waits-for-web-push", func(t *testing.T) {
		k, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		auth := make([]byte, 16)
		_, _ = rand.Read(auth)
		var sub authenticator.Subscription
		sub.Endpoint = ps.URL + "/push/1"
		sub.Keys.P256dh = base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes())
		sub.Keys.Auth = base64.RawURLEncoding.EncodeToString(auth)
		if err := cli.Subscribe(ctx, dev, sub); err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		clk.Advance(push.Window)
		c := from("10.1.2.3")
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the Web Push never reached the push service")
		}
		// A device waiting in a long poll (nothing pending) must not hold
		// the shutdown up, nor outlive the database.
		if _, err := cli.Decide(ctx, dev, c.ID, push.Deny, ""); err != nil {
			t.Fatal(err)
		}
		polled := make(chan error, 1)
		go func() { _, err := cli.Pending(ctx, dev, push.MaxWait); polled <- err }()
		time.Sleep(300 * time.Millisecond)
		stopped := make(chan int, 1)
		go func() { stopped <- srv.stop() }()
		select {
		case code := <-stopped:
			t.Fatalf("serve stopped (exit %d) while a Web Push was in flight", code)
		case <-time.After(500 * time.Millisecond):
		}
		close(release)
		select {
		case code := <-stopped:
			if code != exitOK {
				t.Fatalf("serve exit %d:\n%s", code, srv.stderr.String())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("serve still stopping 5 s after the Web Push ended (a long poll holds it?)")
		}
		select {
		case <-polled:
		case <-time.After(time.Second):
			t.Fatal("the device's long poll still runs after serve returned")
		}
		if strings.Contains(srv.stderr.String(), "cut off") {
			t.Fatalf("shutdown cut requests off:\n%s", srv.stderr.String())
		}
		mu.Lock()
		defer mu.Unlock()
		if len(delivered) != 1 || delivered[0] != http.StatusCreated {
			t.Fatalf("Web Push outcomes %v, want one 201 before serve returned", delivered)
		}
		if strings.Contains(srv.stderr.String(), "database is closed") {
			t.Fatalf("something used the database after it closed:\n%s", srv.stderr.String())
		}
	})
}
