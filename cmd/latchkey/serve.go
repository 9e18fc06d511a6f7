package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/latchkeyid/latchkey/plugin/admin"
	"github.com/latchkeyid/latchkey/plugin/compose"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/cmd/latchkey/internal/demo"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/config"
	"github.com/latchkeyid/latchkey/provider/logwriter"
	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui"
)

type serveCmd struct{}

// Run starts the server and blocks until ctx ends (SIGTERM/SIGINT), then
// drains in-flight requests for ShutdownTimeout.
func (c *serveCmd) Run(a *app) error {
	srv, err := a.build()
	if err != nil {
		return err
	}
	return srv.serve()
}

// server is everything serve starts, built by app.build.
type server struct {
	a        *app
	log      *slog.Logger
	echo     *echo.Echo
	provider *provider.Provider
	adminAPI *admin.API
	sspr     *compose.SSPR // the plugin as built, for the admin API's user operations
	accounts *account.Service
	render   *ui.Renderer
	stops    []func() // run in reverse order at shutdown
	listener net.Listener
	// stopping ends when shutdown starts; it ends the devices' long polls,
	// which would otherwise hold the shutdown up to its timeout and then
	// run on against a closed database.
	stopping    context.Context
	endLongPoll context.CancelFunc
	// draining is set when shutdown starts, before the shutdown delay:
	// /readyz then answers 503 so balancers take the instance out of
	// rotation while it still serves what they send meanwhile.
	draining atomic.Bool
}

// notReadyWhileDraining answers /readyz with 503 once shutdown has started;
// everything else is served as usual until the listener closes, each
// response with "Connection: close", so a client holding a connection here
// opens its next one (through the balancer) elsewhere. Closing the idle
// connections instead would race with a balancer that has just picked one
// for a POST, which it cannot retry.
func (s *server) notReadyWhileDraining(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.draining.Load() {
			return next(c)
		}
		c.Response().Header().Set("Connection", "close")
		if c.Request().URL.Path == "/readyz" {
			c.Response().Header().Set("Cache-Control", "no-store")
			return c.String(http.StatusServiceUnavailable, "shutting down\n")
		}
		return next(c)
	}
}

// longPolls ends the device API's long polls when shutdown starts, with an
// empty answer the device simply repeats (against another instance).
func (s *server) longPolls(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().URL.Path != push.APIPath+"/pending" {
			return next(c)
		}
		ctx, cancel := context.WithCancel(c.Request().Context())
		defer cancel()
		defer context.AfterFunc(s.stopping, cancel)()
		c.SetRequest(c.Request().WithContext(ctx))
		err := next(c)
		if err == nil && !c.Response().Committed && s.stopping.Err() != nil {
			return c.JSON(http.StatusOK, push.PendingResponse{Requests: []push.Request{}})
		}
		return err
	}
}

// newLogger builds the process logger: JSON outside dev mode (for log
// shippers), text in dev mode (for people).
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated already
	opts := &slog.HandlerOptions{Level: level}
	// Every line logged with a request's context carries its request id.
	if cfg.EffectiveLogFormat() == config.LogText {
		return slog.New(web.LogHandler(slog.NewTextHandler(w, opts)))
	}
	return slog.New(web.LogHandler(slog.NewJSONHandler(w, opts)))
}

func (a *app) build() (_ *server, err error) {
	s := &server{a: a}
	defer func() {
		if err != nil {
			s.stop() // whatever started before the failure
		}
	}()
	a.cfg.Issuer = devIssuer(a.cfg)
	if err := a.cfg.Validate(); err != nil {
		return nil, err
	}
	// Access-log lines are buffered and written by one goroutine, so a
	// request never waits on stderr; every other line goes out at once,
	// after the buffered ones. The writer is closed (flushed) last.
	lw := logwriter.New(a.stderr)
	s.stops = append(s.stops, func() { _ = lw.Close() })
	log := newLogger(a.cfg, lw.Direct())
	slog.SetDefault(log)
	s.log = log
	k, err := a.keyring()
	if err != nil {
		return nil, err
	}
	g, err := a.database()
	if err != nil {
		return nil, err
	}
	users, err := a.users()
	if err != nil {
		return nil, err
	}
	store, stop, err := a.opStorage(g, k)
	if err != nil {
		return nil, err
	}
	s.stops = append(s.stops, stop)

	hook := &afterSignIn{}
	auditLog := audit.NewLog(g)
	loginRate, err := config.ParseRate(a.cfg.LoginLimitIP)
	if err != nil {
		return nil, err
	}
	var accessLog *slog.Logger
	if a.cfg.AccessLog != "off" {
		accessLog = newLogger(a.cfg, lw)
	}
	// One renderer with the configured brand for every page, the
	// provider's and the plugin's alike.
	s.render, err = ui.New(ui.WithBrand(a.cfg.Brand()))
	if err != nil {
		return nil, err
	}
	p, err := provider.New(provider.Options{
		Renderer:       s.render,
		AccessLog:      accessLog,
		Version:        buildVersion(),
		AfterSignIn:    hook,
		LoginThrottle:  loginThrottle(ratelimit.New(g), loginRate),
		Issuer:         a.cfg.Issuer,
		Insecure:       strings.HasPrefix(a.cfg.Issuer, "http://"), // config allows it only in dev or on loopback
		DB:             g,
		Keyring:        k,
		Users:          users,
		Audit:          auditLog,
		Storage:        store,
		SessionTTL:     a.cfg.SessionLifetime,
		AuditRetention: time.Duration(a.cfg.AuditRetentionDays) * 24 * time.Hour,
		TrustedProxies: a.cfg.TrustedProxies,
		ExtraHosts:     extraHosts(a.cfg),
	})
	if err != nil {
		return nil, err
	}
	s.provider = p

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	s.stopping, s.endLongPoll = context.WithCancel(context.Background())
	s.stops = append(s.stops, s.endLongPoll)
	e.Use(s.notReadyWhileDraining)
	e.Use(s.longPolls)
	e.Logger.SetOutput(io.Discard) // slog is the log; echo's own logger stays quiet
	p.Mount(e)
	if err := s.mountPlugin(e, p, hook, g, k, users, auditLog); err != nil {
		return nil, err
	}
	if err := s.mountAdminAPI(e, p, store, g, k, users, auditLog); err != nil {
		return nil, err
	}
	st, _ := store.(*opstore.Storage)
	if _, err := mountConsole(a.ctx, e, e, st, a.consoleClient(k), a.cfg.Issuer, s.render, k, users); err != nil {
		return nil, err
	}
	if a.cfg.Dev {
		if err := a.devSetup(log, users); err != nil {
			return nil, err
		}
		// One instance for every demo path: it keeps its sessions in memory.
		d := echo.WrapHandler(demo.New(a.cfg.Issuer, nil, demo.WithBrand(a.cfg.Brand().ProductName())).Handler())
		e.Any(demo.PathHome, d)
		e.Any(demo.PathHome+"/*", d)
	}
	s.echo = e
	return s, nil
}

// devIssuer follows --listen in dev mode when the issuer is left at its
// default: `serve --dev --listen :9090` then works without also changing
// --issuer.
func devIssuer(cfg config.Config) string {
	if !cfg.Dev || cfg.Issuer != config.Defaults().Issuer {
		return cfg.Issuer
	}
	_, port, err := net.SplitHostPort(cfg.EffectiveListen())
	if err != nil || port == "" || port == "0" || port == "8080" {
		return cfg.Issuer
	}
	return "http://localhost:" + port
}

// extraHosts lets dev mode answer on 127.0.0.1 as well as localhost.
func extraHosts(cfg config.Config) []string {
	if !cfg.Dev {
		return nil
	}
	_, port, err := net.SplitHostPort(cfg.EffectiveListen())
	if err != nil {
		return nil
	}
	return []string{"127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port}
}

func (s *server) serve() error {
	a := s.a
	ln := s.listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", a.cfg.EffectiveListen()); err != nil {
			return fmt.Errorf("listen on %s: %w", a.cfg.EffectiveListen(), err)
		}
	}
	ms, err := s.serveMetrics()
	if err != nil {
		_ = ln.Close()
		return err
	}
	handler, stopTracing, err := s.tracing(s.echo)
	if err != nil {
		_ = ln.Close()
		if ms != nil {
			_ = ms.Close()
		}
		return err
	}
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	stopPprof, err := s.startPprof()
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer stopPprof()
	s.provider.Start()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.log.Info("latchkey started", "issuer", a.cfg.Issuer, "listen", ln.Addr().String(),
		"database", redactDB(a.cfg.Database), "dev", a.cfg.Dev)
	if a.onListen != nil {
		a.onListen(ln.Addr().String())
	}

	var serveErr error
	select {
	case <-a.ctx.Done():
		delay := a.cfg.EffectiveShutdownDelay()
		s.log.Info("shutting down", "delay", delay.String(), "timeout", a.cfg.ShutdownTimeout.String())
		serveErr = s.drain(delay, errc)
	case serveErr = <-errc:
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(a.ctx), a.cfg.ShutdownTimeout)
	defer cancel()
	s.endLongPoll()
	if err := hs.Shutdown(ctx); err != nil {
		s.log.Warn("shutdown: requests still running were cut off", "err", err)
	}
	if ms != nil {
		_ = ms.Shutdown(ctx)
	}
	stopTracing(ctx)
	_ = s.provider.Close()
	s.stop()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	s.log.Info("stopped")
	return nil
}

// drain fails /readyz and keeps serving for delay, so that balancers and
// Kubernetes endpoints, which notice only at their next probe, stop sending
// here before the listener closes. It returns early with the error if the
// server fails meanwhile.
func (s *server) drain(delay time.Duration, errc <-chan error) error {
	s.draining.Store(true)
	if delay <= 0 {
		return nil
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case err := <-errc:
		return err
	}
}

// stop runs the stop functions in reverse order, once.
func (s *server) stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
}

func redactDB(u string) string { return config.Config{Database: u}.Redacted().Database }

// Dev mode's demo user. Its password is new at every start and printed
// once, so the person at the terminal can always sign in.
const devUsername = "demo"

func (a *app) devSetup(log *slog.Logger, users *user.Store) error {
	pw := devPassword()
	// The demo password is 80 random bits: no guessing attack needs a
	// memory-hard hash to fail, so it is hashed at a token cost (a full
	// Argon2id was most of dev mode's start-up time, and its 19 MiB most of
	// the start's peak memory) and upgraded to the configured cost at its
	// first sign-in.
	hash, err := password.NewHasher(devPasswordParams).Hash(a.ctx, pw)
	if err != nil {
		return fmt.Errorf("dev: demo password: %w", err)
	}
	u, err := users.ByLogin(a.ctx, devUsername)
	switch {
	case errors.Is(err, user.ErrNotFound):
		u, err = users.Create(a.ctx, user.NewUser{
			Username: devUsername, Email: "demo@example.com", DisplayName: "Demo User", PasswordHash: hash,
		})
		if err != nil {
			return fmt.Errorf("dev: create demo user: %w", err)
		}
	case err != nil:
		return err
	default:
		// A new password at every start: like any reset, it ends what the
		// old one signed in.
		svc, _, err := a.accounts()
		if err != nil {
			return err
		}
		if err := svc.ResetPassword(a.ctx, u.ID, hash, account.Keep{}, nil); err != nil {
			return fmt.Errorf("dev: reset demo password: %w", err)
		}
	}
	if err := a.ensureDemoClient(); err != nil {
		return fmt.Errorf("dev: demo client: %w", err)
	}
	fmt.Fprintf(a.stderr, `
  Latchkey dev mode
    demo app:     %[1]s/demo
    sign in as:   %[2]s
    password:     %[3]s   (new at every start; shown only here)
    discovery:    %[1]s/.well-known/openid-configuration
    data:         %[4]s (SQLite database and generated secret)

`, a.cfg.Issuer, devUsername, pw, a.cfg.DataDir)
	log.Debug("dev setup done", "user", u.ID)
	return nil
}

// devPassword is four groups of random base32: about 80 bits, easy to type.
// devPasswordParams hash the demo password at each start (see devSetup).
var devPasswordParams = password.Params{Memory: 64, Time: 1, Threads: 1}

func devPassword() string {
	t := strings.ToLower(rand.Text())
	return t[0:4] + "-" + t[4:8] + "-" + t[8:12] + "-" + t[12:16]
}
