package provider

import (
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// metrics are the provider's Prometheus series, on a registry of its own so
// two servers in one test process do not collide.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	signins  *prometheus.CounterVec
	events   *prometheus.CounterVec
}

func newMetrics(version string) *metrics {
	if version == "" {
		version = "dev"
	}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_http_requests_total",
			Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "latchkey_http_request_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		signins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_signins_total",
			Help: "Sign-in attempts by method and outcome (ok, bad_credentials, locked, ip_limited, login_required, error).",
		}, []string{"method", "outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latchkey_audit_events_total",
			Help: "Audit events recorded by this instance, by type (signin.failed, lockout, recovery.start, password.reset, phone.send, phone.breaker, ...) and outcome (ok, fail, blocked).",
		}, []string{"type", "outcome"}),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "latchkey_build_info",
		Help:        "Always 1; the labels say which latchkey and Go toolchain built this instance.",
		ConstLabels: prometheus.Labels{"version": version, "go_version": runtime.Version()},
	})
	buildInfo.Set(1)
	m.reg.MustRegister(m.requests, m.latency, m.signins, m.events, buildInfo, db.Retries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// watchDB publishes the database pool's statistics (open, in use, idle,
// waits and time waited for a connection) as go_sql_* series, read from
// sql.DBStats at each scrape.
func (m *metrics) watchDB(g *gorm.DB) error {
	sqlDB, err := g.DB()
	if err != nil {
		return fmt.Errorf("metrics: database pool: %w", err)
	}
	return m.reg.Register(collectors.NewDBStatsCollector(sqlDB, "latchkey"))
}

// auditEvent counts one recorded audit event.
func (m *metrics) auditEvent(typ, outcome string) {
	m.events.WithLabelValues(typ, outcome).Inc()
}

// middleware counts every request by its route pattern (never the raw path,
// which would let anyone create unbounded label values) and the status
// code the client actually received. A handler's error is rendered here,
// by Echo's error handler, rather than after the middleware returns: only
// the error handler knows which status an error becomes (a page error's
// 403, an OAuth error's 401), and guessing it here counted those as 500s.
func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" || route == "/*" {
			route = opRoute(c.Request().URL.Path)
		}
		method := c.Request().Method
		m.requests.WithLabelValues(route, method, strconv.Itoa(c.Response().Status)).Inc()
		m.latency.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		return nil
	}
}

// opRoute maps a path handled by the OP router to a fixed label.
func opRoute(path string) string {
	switch path {
	case "/.well-known/openid-configuration", "/authorize", "/authorize/callback", "/oauth/token",
		"/oauth/introspect", "/userinfo", "/revoke", "/end_session", "/keys", "/device_authorization":
		return path
	}
	return "other"
}

// signin counts one sign-in attempt. Outcomes that are only reached with
// the right password (a disabled account, an id_token_hint naming someone
// else) are counted as bad_credentials: a counter anyone can watch must not
// tell a password guesser that a guess was right.
func (m *metrics) signin(method, outcome string) {
	switch outcome {
	case "disabled", "wrong_account":
		outcome = "bad_credentials"
	}
	m.signins.WithLabelValues(method, outcome).Inc()
}

// MetricsHandler serves the Prometheus metrics. It is not mounted on the
// public routes: cmd serves it on a listener of its own (loopback by
// default), because request counts by route and status, and sign-in
// outcomes, help an attacker time and steer a password-guessing run.
func (p *Provider) MetricsHandler() http.Handler { return p.metrics.handler() }

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
