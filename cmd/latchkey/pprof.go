package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// pprofHandler serves Go's profiler on a mux of its own: importing
// net/http/pprof also fills http.DefaultServeMux, which nothing here serves.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// startPprof serves the profiler on its own listener when configured, so
// profiles (which reveal memory contents and can cost a CPU for seconds) are
// never reachable through the public address. It returns the function that
// stops it. Dev mode's implicit default is best effort: a busy port there is
// a warning, since a second dev instance must still start.
func (s *server) startPprof() (stop func(), err error) {
	addr := s.a.cfg.EffectivePprofListen()
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if s.a.cfg.PprofListen == "" {
			s.log.Warn("pprof: dev-mode profiler not started", "listen", addr, "err", err)
			return func() {}, nil
		}
		return nil, fmt.Errorf("pprof: listen on %s: %w", addr, err)
	}
	if ip := net.ParseIP(hostOf(ln.Addr())); ip == nil || !ip.IsLoopback() {
		s.log.Warn("pprof: the profiler listens beyond loopback; keep it behind a firewall", "listen", ln.Addr().String())
	}
	hs := &http.Server{
		Handler:           pprofHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Warn("pprof: stopped", "err", err)
		}
	}()
	s.log.Info("pprof listening", "listen", ln.Addr().String(), "path", "/debug/pprof/")
	return func() { _ = hs.Close() }, nil
}

func hostOf(a net.Addr) string {
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return ""
	}
	return host
}
