package main

import (
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/db/dbtest/galera"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// runMainEnv makes the test binary act as the latchkey binary, so tests
// can start a real `latchkey serve` process and send it a real SIGTERM.
const runMainEnv = "LATCHKEY_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main() // exits
	}
	os.Exit(galera.Main(m)) // stops the Galera cluster if a test started one
}

// process is a `latchkey serve` child process.
type process struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(os.Args[0], args...), stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), runMainEnv+"=1")
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// statusOf sends method u and returns the status code, or 0 if no
// connection could be made.
func statusOf(c *http.Client, method, u string) int {
	code, _ := send(c, method, u)
	return code
}

// send sends method u and returns the status code (0 if no connection
// could be made) and whether the server asked to close the connection.
func send(c *http.Client, method, u string) (code int, closing bool) {
	req, err := http.NewRequest(method, u, strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		return 0, false
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return 0, false
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Close
}

// waitFor polls until cond holds; the bound is for a wedged process, not a
// timing assertion.
func waitFor(t *testing.T, p *process, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		select {
		case <-p.exited:
			t.Fatalf("serve exited (%v) while waiting for %s:\n%s", p.err, what, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s:\n%s", what, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeShutdownDelay: on SIGTERM a real serve process fails /readyz at
// once, so a balancer takes it out of rotation, and keeps accepting and
// answering requests on new connections for LATCHKEY_SHUTDOWN_DELAY; then
// it closes the listener, drains and exits 0.
func TestServeShutdownDelay(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		clearLatchkeyEnv(t)
		addr := "127.0.0.1:" + freePort(t)
		base := "http://" + addr
		// Long enough that the checks below finish inside it on a loaded
		// machine; the test takes about this long.
		const delay = "8s"
		p := startProcess(t, "serve", "--listen", addr, "--issuer", base, "--metrics-listen", "off",
			"--database", dbURL, "--secret", secret.Generate(), "--argon2-memory", "7168", "--argon2-time", "5",
			"--shutdown-delay", delay, "--shutdown-timeout", "5s")
		// A keep-alive client: during the delay the server closes each
		// connection after its response, so every request below also
		// proves the listener still accepts new connections.
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
		waitFor(t, p, "/readyz 200", func() bool { return statusOf(c, http.MethodGet, base+"/readyz") == http.StatusOK })

		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitFor(t, p, "/readyz 503", func() bool { return statusOf(c, http.MethodGet, base+"/readyz") == http.StatusServiceUnavailable })

		tests := []struct {
			name   string
			method string
			path   string
			want   int
		}{
			{"discovery-still-served", http.MethodGet, "/.well-known/openid-configuration", http.StatusOK},
			{"jwks-still-served", http.MethodGet, "/keys", http.StatusOK},
			{"liveness-still-ok", http.MethodGet, "/healthz", http.StatusOK},
			{"token-endpoint-still-answers", http.MethodPost, "/oauth/token", http.StatusUnauthorized},
			{"readiness-stays-failed", http.MethodGet, "/readyz", http.StatusServiceUnavailable},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, closing := send(c, tt.method, base+tt.path)
				if got != tt.want {
					t.Fatalf("%s %s during the shutdown delay: %d, want %d\n%s", tt.method, tt.path, got, tt.want, p.stderr.String())
				}
				// Clients holding a connection here move elsewhere.
				if !closing {
					t.Errorf("%s %s during the shutdown delay: no Connection: close", tt.method, tt.path)
				}
			})
		}

		select {
		case <-p.exited:
		case <-time.After(60 * time.Second):
			t.Fatalf("serve did not exit after SIGTERM:\n%s", p.stderr.String())
		}
		if p.err != nil {
			t.Fatalf("serve exited with %v:\n%s", p.err, p.stderr.String())
		}
		if _, err := net.Dial("tcp", addr); err == nil {
			t.Errorf("%s still accepts connections after exit", addr)
		} else if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Logf("dial after exit: %v", err)
		}
		if log := p.stderr.String(); !strings.Contains(log, `"delay":"8s"`) || !strings.Contains(log, `"msg":"stopped"`) {
			t.Errorf("log lacks the shutdown delay or the stop:\n%s", log)
		}
	})
}
