package main

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/authenticator"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/web"
)

// cmdRun runs the latchkey command in-process with stdin.
func cmdRun(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// TestAuthenticatorCommand drives `latchkey authenticator` against a real
// HTTP server with the push method's device API on a real database.
func TestAuthenticatorCommand(t *testing.T) {
	clearLatchkeyEnv(t)
	dbtest.EachDB(t, migrationSets(), func(t *testing.T, g *gorm.DB) {
		ctx := t.Context()
		keys, err := secret.Parse(secret.Generate())
		if err != nil {
			t.Fatal(err)
		}
		store := method.NewStore(g)
		e := echo.New()
		e.HTTPErrorHandler = web.ErrorHandler(nil, nil)
		srv := httptest.NewServer(e)
		t.Cleanup(srv.Close)
		log := audit.NewLog(g)
		m, err := push.New(g, store, keys, push.Config{Issuer: srv.URL, Audit: log, App: "Demo app"})
		if err != nil {
			t.Fatal(err)
		}
		m.Routes(e.Group(""))
		u := method.Ref{ID: rand.Text(), Username: "alice"}
		state := filepath.Join(t.TempDir(), "auth", "state.json")
		sf := "--state=" + state

		t.Run("approve-without-device-is-a-usage-error", func(t *testing.T) {
			if code, _, errs := cmdRun(t, "", "authenticator", "approve", sf, "--number", "10"); code != exitUsage || !strings.Contains(errs, "enroll") {
				t.Fatalf("exit %d: %s", code, errs)
			}
		})

		fid := rand.Text()
		p, err := m.Begin(ctx, fid, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Run("enroll", func(t *testing.T) {
			code, out, errs := cmdRun(t, "", "authenticator", "enroll", p.Prompt.Link, sf, "--name", "laptop")
			if code != exitOK || !strings.Contains(out, "Enrolled for alice") {
				t.Fatalf("exit %d: %s %s", code, out, errs)
			}
			fi, err := os.Stat(state)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("state file: %v %v", fi, err)
			}
			mm := regexp.MustCompile(`Pairing code: (\d{6})`).FindStringSubmatch(out)
			if mm == nil {
				t.Fatalf("no pairing code in %q", out)
			}
			en, res, err := m.Finish(ctx, fid, u, p, method.Input{push.FieldCode: mm[1]})
			if err != nil || !res.OK || en.Label != "Latchkey Authenticator (laptop)" {
				t.Fatalf("Finish = %+v %+v %v", en, res, err)
			}
			if err := store.Add(ctx, &en, 0); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("link-is-single-use", func(t *testing.T) {
			code, _, errs := cmdRun(t, "", "authenticator", "enroll", p.Prompt.Link, sf+".2")
			if code != exitFailed || !strings.Contains(errs, "already used or has expired") {
				t.Fatalf("exit %d: %s", code, errs)
			}
		})
		t.Run("bad-input", func(t *testing.T) {
			for _, args := range [][]string{
				{"authenticator", "enroll", "https://example.com/x", sf},
				{"authenticator", "enroll", "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP", sf}, // seeds never in argv
				{"authenticator", "enroll", "-", sf},                                        // empty stdin
				{"authenticator", "approve", "--deny", "--report", sf},
			} {
				if code, _, errs := cmdRun(t, "", args...); code != exitUsage || errs == "" {
					t.Errorf("%v: exit %d %s", args, code, errs)
				}
			}
		})

		list, err := store.List(ctx, u.ID)
		if err != nil || len(list) != 1 {
			t.Fatalf("enrollments = %+v, %v", list, err)
		}
		en := list[0]
		for _, tt := range []struct {
			name  string
			stdin string
			args  func(c method.Challenge) []string
			code  int
			out   string
			ok    bool
		}{
			{"right-number-flag", "", func(c method.Challenge) []string { return []string{"--number", c.Prompt.Number} }, exitOK, "Approved", true},
			{"wrong-number-typed", "00\n", func(method.Challenge) []string { return nil }, exitFailed, "", false},
			{"deny-typed", "d\n", func(method.Challenge) []string { return nil }, exitOK, "Denied.", false},
			{"right-number-typed", "", nil, exitOK, "Approved", true},
			{"deny-flag", "", func(method.Challenge) []string { return []string{"--deny"} }, exitOK, "Denied.", false},
			{"report-flag", "", func(method.Challenge) []string { return []string{"--report"} }, exitOK, "reported", false},
		} {
			t.Run(tt.name, func(t *testing.T) {
				fid := rand.Text()
				c, err := m.Challenge(ctx, fid, u, en)
				if err != nil {
					t.Fatal(err)
				}
				stdin, extra := tt.stdin, []string(nil)
				if tt.args == nil {
					stdin = c.Prompt.Number + "\n"
				} else {
					extra = tt.args(c)
				}
				code, out, errs := cmdRun(t, stdin, append([]string{"authenticator", "approve", sf, "--wait", "5s"}, extra...)...)
				if code != tt.code || !strings.Contains(out, tt.out) || !strings.Contains(out, "app:   Demo app") {
					t.Fatalf("exit %d, want %d: %s %s", code, tt.code, out, errs)
				}
				res, err := m.Verify(ctx, fid, u, en, c, nil)
				if err != nil || res.OK != tt.ok || (!tt.ok && !res.Dead) {
					t.Fatalf("Verify = %+v, %v; want ok=%v", res, err, tt.ok)
				}
			})
		}
		t.Run("nothing-pending", func(t *testing.T) {
			// After the report pushes are blocked; nothing arrives.
			if code, _, errs := cmdRun(t, "", "authenticator", "approve", sf, "--wait", "1s", "--number", "10"); code != exitFailed ||
				!strings.Contains(errs, "no sign-in request") {
				t.Fatalf("exit %d: %s", code, errs)
			}
		})
		t.Run("codes", func(t *testing.T) {
			if code, out, _ := cmdRun(t, "", "authenticator", "codes", sf); code != exitOK || !strings.Contains(out, "No authenticator-app accounts") {
				t.Fatalf("exit %d: %s", code, out)
			}
			const seed = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
			uri := "otpauth://totp/Latchkey:alice?secret=" + seed + "&issuer=Latchkey&period=30&digits=6"
			if code, out, errs := cmdRun(t, uri+"\n", "authenticator", "enroll", "-", sf); code != exitOK || !strings.Contains(out, "alice") {
				t.Fatalf("exit %d: %s %s", code, out, errs)
			}
			before, _ := totp.Code(seed, time.Now())
			code, out, errs := cmdRun(t, "", "authenticator", "codes", sf)
			after, _ := totp.Code(seed, time.Now())
			if code != exitOK || !(strings.Contains(out, before) || strings.Contains(out, after)) || !strings.Contains(out, "Latchkey") {
				t.Fatalf("exit %d: %s %s (want %s)", code, out, errs, before)
			}
			st, err := authenticator.Load(state)
			if err != nil || len(st.TOTP) != 1 || len(st.Devices) != 1 {
				t.Fatalf("state = %+v, %v", st, err)
			}
		})
	})
}

// TestAuthenticatorAgainstServe: the command enrolls with, and approves a
// push through, a real `latchkey serve --dev` (its own routes, database
// and keys); the test plays the Security info and recovery pages by
// calling the push method on the same database and secret.
func TestAuthenticatorAgainstServe(t *testing.T) {
	clearLatchkeyEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	dbPath := filepath.Join(dir, "latchkey.db")
	srv := startServe(t, "--dev", "--data-dir", dir, "--database", "sqlite://"+dbPath,
		"--argon2-memory", "7168", "--argon2-time", "5")
	ctx := t.Context()
	raw, err := os.ReadFile(filepath.Join(dir, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secret.Parse(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	g := dbtest.Open(t, "sqlite://"+dbPath)
	var u struct{ ID, Username string }
	if err := g.Table("users").Select("id", "username").Where("username = ?", devUsername).Take(&u).Error; err != nil {
		t.Fatalf("demo user: %v", err)
	}
	store := method.NewStore(g)
	m, err := push.New(g, store, keys, push.Config{Issuer: srv.base})
	if err != nil {
		t.Fatal(err)
	}
	ref := method.Ref{ID: u.ID, Username: u.Username}
	p, err := m.Begin(ctx, "reg", ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	state := "--state=" + filepath.Join(t.TempDir(), "state.json")
	code, out, errs := cmdRun(t, "", "authenticator", "enroll", p.Prompt.Link, state, "--name", "cli")
	mm := regexp.MustCompile(`Pairing code: (\d{6})`).FindStringSubmatch(out)
	if code != exitOK || mm == nil || !strings.Contains(out, "Enrolled for demo") {
		t.Fatalf("enroll: exit %d: %s %s", code, out, errs)
	}
	en, res, err := m.Finish(ctx, "reg", ref, p, method.Input{push.FieldCode: mm[1]})
	if err != nil || !res.OK {
		t.Fatalf("Finish = %+v, %v", res, err)
	}
	if err := store.Add(ctx, &en, 0); err != nil {
		t.Fatal(err)
	}
	c, err := m.Challenge(ctx, "recover", ref, en)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs = cmdRun(t, "", "authenticator", "approve", state, "--wait", "20s", "--number", c.Prompt.Number)
	if code != exitOK || !strings.Contains(out, "Approved") {
		t.Fatalf("approve: exit %d: %s %s", code, out, errs)
	}
	if res, err := m.Verify(ctx, "recover", ref, en, c, nil); err != nil || !res.OK {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	// The server's own status endpoint saw the decision.
	resp, body := get(t, http.DefaultClient, c.Prompt.Poll)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"decided"`) {
		t.Fatalf("status: %d %s", resp.StatusCode, body)
	}
	// The web app is served by the real server.
	if resp, body := get(t, http.DefaultClient, srv.base+push.EnrollPath); resp.StatusCode != http.StatusOK ||
		!strings.Contains(body, "Latchkey Authenticator") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "manifest-src 'self'") {
		t.Fatalf("web app: %d %v", resp.StatusCode, resp.Header)
	}
}
