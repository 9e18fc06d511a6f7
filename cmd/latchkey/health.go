package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"time"
)

// version is set at build time:
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/latchkey
//
// deploy/Dockerfile passes its VERSION build argument this way.
var version = "dev"

type versionCmd struct{}

func (c *versionCmd) Run(a *app) error {
	fmt.Fprintf(a.stdout, "latchkey %s\n", buildVersion())
	return nil
}

// buildVersion is the injected version or, for `go install …@v1.2.3`, the
// module version the toolchain recorded.
func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

// healthcheckCmd exists because the container image has no shell and no
// curl: Docker's HEALTHCHECK and compose run the binary itself.
type healthcheckCmd struct {
	Addr    string        `name:"addr" help:"host:port of the Latchkey listener (default: --listen / LATCHKEY_LISTEN, on loopback)." placeholder:"HOST:PORT"`
	Path    string        `name:"path" default:"/readyz" enum:"/readyz,/healthz" help:"/readyz (the process and the database) or /healthz (the process only)."`
	Timeout time.Duration `name:"timeout" default:"3s" help:"Give up after this long."`
}

// Run exits 0 when the endpoint answers 200 and 1 otherwise.
func (c *healthcheckCmd) Run(a *app) error {
	addr := c.Addr
	if addr == "" {
		addr = probeAddr(a.cfg.EffectiveListen())
	}
	ctx, cancel := context.WithTimeout(a.ctx, c.Timeout)
	defer cancel()
	u := "http://" + addr + c.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return usageError{fmt.Errorf("healthcheck: %w", err)}
	}
	// No proxy from the environment and no redirects: the probe is about
	// this process, not whatever answers on its behalf.
	resp, err := (&http.Transport{Proxy: nil, DisableKeepAlives: true}).RoundTrip(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: %s", u, resp.Status)
	}
	fmt.Fprintf(a.stdout, "ok: GET %s: %s\n", u, resp.Status)
	return nil
}

// probeAddr turns a listen address into one to connect to: a listener on
// every interface (":8080", "0.0.0.0:8080", "[::]:8080") is reached on
// loopback, which is where the probe runs (inside the container).
func probeAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
