package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/latchkeyid/latchkey/provider/config"
)

// metricsPath is the one path the metrics listener answers.
const metricsPath = "/metrics"

// serveMetrics starts the Prometheus listener on LATCHKEY_METRICS_LISTEN
// (nil when it is off). It is a server of its own, apart from the public
// one: request counts by route and status and sign-in outcomes are for the
// operator, and its default address is loopback, so an instance that is
// reachable from the internet does not publish them by accident.
func (s *server) serveMetrics() (*http.Server, error) {
	addr := s.a.cfg.MetricsListen
	if addr == config.MetricsOff {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+metricsPath, s.provider.MetricsHandler())
	ms := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := ms.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics listener stopped", "err", err)
		}
	}()
	s.log.Info("metrics listening", "listen", ln.Addr().String(), "path", metricsPath)
	return ms, nil
}
