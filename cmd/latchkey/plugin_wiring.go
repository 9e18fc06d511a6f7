package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/plugin/captcha"
	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/email"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/plugin/method/questions"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/plugin/sender/outbox"
	"github.com/latchkeyid/latchkey/plugin/sender/smtp"
	"github.com/latchkeyid/latchkey/plugin/sender/twilio"
	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/config"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/ui"
	lkmail "github.com/latchkeyid/latchkey/ui/mail"
)

// signInAdapter presents the provider as the plugin's SignIn: the two
// packages each define their own Account (the plugin must not import the
// provider), so cmd converts between them.
type signInAdapter struct{ *provider.Provider }

func (s signInAdapter) Current(c echo.Context) (plugin.Account, bool) {
	a, ok := s.Provider.Current(c)
	return plugin.Account(a), ok
}

var _ plugin.SignIn = signInAdapter{}

// afterSignIn forwards the provider's hook to the plugin, which is built
// after the provider (it needs the provider as its SignIn).
type afterSignIn struct{ p *plugin.Plugin }

func (h *afterSignIn) AfterSignIn(c echo.Context, userID, authRequestID string) (string, error) {
	if h.p == nil {
		return "", nil
	}
	return h.p.AfterSignIn(c, userID, authRequestID)
}

// pluginDeps are the SSPR plugin's parts that need starting and stopping.
type pluginDeps struct {
	queue   *sender.Queue
	outbox  *outbox.Outbox // dev mode without SMTP
	captcha captcha.Verifier
	codes   *method.Codes
	limiter *ratelimit.Limiter
	flows   *flow.Store
	push    *push.Method
	plugin  *plugin.Plugin
}

// Test hooks (nil in production): pushConfigHook adjusts the push
// method's configuration before it is built (a loopback push service),
// pushHook learns the method serve built.
var (
	pushConfigHook func(*push.Config)
	pushHook       func(*push.Method)
)

// phoneMethods builds the SMS and voice methods: through the Twilio API
// when configured, through the dev outbox in dev mode, else none. The
// country allowlist is the policy's, read at each registration and send.
func (s *server) phoneMethods(d *pluginDeps, k *secret.Keyring, auditLog *audit.Log, policies *policy.Store) ([]method.Method, error) {
	a := s.a
	setup := phone.Setup{
		DefaultRegion: a.cfg.DefaultRegion, Brand: "Latchkey", Audit: auditLog, Log: s.log,
		Countries: func(ctx context.Context) ([]string, error) {
			pol, err := policies.Get(ctx)
			if err != nil {
				return nil, err
			}
			return pol.PhoneAllowlist(a.cfg.DefaultRegion), nil
		},
	}
	if u, err := url.Parse(a.cfg.Issuer); err == nil {
		setup.Domain = u.Hostname()
	}
	setup.Limits = phoneLimits(a.cfg.Phone())
	switch {
	case a.cfg.TwilioAccountSID != "":
		tw, err := twilio.New(twilio.Config{URL: a.cfg.TwilioURL, AccountSID: a.cfg.TwilioAccountSID,
			AuthToken: a.cfg.TwilioAuthToken, From: a.cfg.TwilioFrom})
		if err != nil {
			return nil, fmt.Errorf("twilio: %w", err)
		}
		setup.SMS, setup.Voice = tw.SMS(), tw.Voice()
	case d.outbox != nil:
		setup.SMS, setup.Voice = d.outbox.Sender(sender.SMS), d.outbox.Sender(sender.Voice)
	default:
		return nil, nil
	}
	ms, _, err := phone.Methods(d.codes, k, d.limiter, setup)
	return ms, err
}

// pushMethod builds the push method: the fraud-report block comes from the
// policy, place names from LATCHKEY_PUSH_NETWORKS (validated at start-up)
// before the local fallback.
func (s *server) pushMethod(g *gorm.DB, enrollments *method.Store, k *secret.Keyring, auditLog *audit.Log,
	policies *policy.Store) (*push.Method, error) {
	cfg := push.Config{Issuer: s.a.cfg.Issuer, Audit: auditLog, Locator: push.LocalLocator{},
		ReportBlockFunc: func(ctx context.Context) (time.Duration, error) {
			pol, err := policies.Get(ctx)
			return pol.PushReportBlock(), err
		},
	}
	if nets := s.a.cfg.Networks(); len(nets) > 0 {
		n, err := push.NewNetworks(nets, push.LocalLocator{})
		if err != nil {
			return nil, fmt.Errorf("LATCHKEY_PUSH_NETWORKS: %w", err)
		}
		cfg.Locator = n
	}
	if pushConfigHook != nil {
		pushConfigHook(&cfg)
	}
	m, err := push.New(g, enrollments, k, cfg)
	if err == nil && pushHook != nil {
		pushHook(m)
	}
	return m, err
}

// phoneLimits is LATCHKEY_PHONE_LIMIT_* over the checklist's defaults (the
// resend cool-down and the breaker's open time stay phone.DefaultLimits').
func phoneLimits(c config.PhoneLimits) *phone.Limits {
	l := phone.DefaultLimits
	l.PerNumber.Limit, l.PerNumber.Window = c.Number.N, c.Number.Window
	l.PerNumberDay.Limit, l.PerNumberDay.Window = c.NumberDay.N, c.NumberDay.Window
	l.PerUser.Limit, l.PerUser.Window = c.User.N, c.User.Window
	l.PerUserDay.Limit, l.PerUserDay.Window = c.UserDay.N, c.UserDay.Window
	l.PerIP.Limit, l.PerIP.Window = c.IP.N, c.IP.Window
	l.PerIPDay.Limit, l.PerIPDay.Window = c.IPDay.N, c.IPDay.Window
	l.DialCodeDay, l.GlobalHour = c.DialCodeDay, c.GlobalHour
	return &l
}

// mountPlugin builds the SSPR plugin (/recover, /security-info) from the
// configuration and mounts it on e.
func (s *server) mountPlugin(e *echo.Echo, p *provider.Provider, hook *afterSignIn, g *gorm.DB, k *secret.Keyring,
	users *user.Store, auditLog *audit.Log) error {
	a := s.a
	var senders []sender.Sender
	d := &pluginDeps{flows: flow.NewStore(g)}
	switch {
	case a.cfg.SMTPURL != "":
		sm, err := smtp.New(a.cfg.SMTPURL)
		if err != nil {
			return fmt.Errorf("LATCHKEY_SMTP_URL: %w", err)
		}
		senders = append(senders, sm)
	case a.cfg.Dev:
		// Dev mode: messages are kept in memory and shown at /dev/outbox.
		d.outbox = outbox.New()
		senders = append(senders, d.outbox.Sender(sender.Email))
	}
	d.queue = sender.NewQueue(g, k, senders, sender.WithLogger(s.log))
	tmpl, err := lkmail.New(a.cfg.Issuer)
	if err != nil {
		return err
	}
	d.codes = method.NewCodes(g, k)
	d.limiter = ratelimit.New(g)
	enrollments := method.NewStore(g)
	policies, err := a.policies()
	if err != nil {
		return err
	}
	counts := func(ctx context.Context) (int, int, error) {
		pol, err := policies.Get(ctx)
		return pol.QuestionsRegister, pol.QuestionsAsk, err
	}
	methods := []method.Method{
		totp.New(enrollments, k, "Latchkey"),
		questions.New(g, users.Hasher(), k, counts),
	}
	if d.queue.Available(sender.Email) {
		methods = append(methods, email.New(d.codes, d.queue, tmpl, k, email.WithLimiter(d.limiter, email.DefaultLimits)))
	}
	phones, err := s.phoneMethods(d, k, auditLog, policies)
	if err != nil {
		return err
	}
	methods = append(methods, phones...)
	d.push, err = s.pushMethod(g, enrollments, k, auditLog, policies)
	if err != nil {
		return err
	}
	methods = append(methods, d.push)
	registry, err := method.NewRegistry(methods...)
	if err != nil {
		return err
	}
	d.captcha, err = captcha.FromConfig(captcha.Config{
		Kind: captcha.Kind(a.cfg.Captcha), SiteKey: a.cfg.CaptchaSiteKey, Secret: a.cfg.CaptchaSecret,
		VerifyURL: a.cfg.CaptchaVerifyURL, Dev: a.cfg.Dev,
	}, g, captcha.WithKeyring(k))
	if err != nil {
		return err
	}
	renderer, err := ui.New()
	if err != nil {
		return err
	}
	pl, err := plugin.Mount(e.Group(""), plugin.Deps{
		DB: g, Users: users, Audit: auditLog, Keys: k, Methods: registry, Enrollments: enrollments,
		Codes: d.codes, Policy: policies, Queue: d.queue, Captcha: d.captcha, SignIn: signInAdapter{p},
		Renderer: renderer, Issuer: a.cfg.Issuer, PasswordPolicy: a.policy(), Mail: tmpl, Limiter: d.limiter,
		DecoyMailDomains: a.cfg.DecoyMailDomains,
	})
	if err != nil {
		return err
	}
	hook.p, d.plugin = pl, pl
	d.push.Routes(e.Group(""))
	if d.outbox != nil {
		e.GET("/dev/outbox", echo.WrapHandler(d.outbox.Handler(renderer)))
	}
	s.start(d)
	return nil
}

// start runs the outbox dispatcher and the plugin's periodic cleanup until
// shutdown.
func (s *server) start(d *pluginDeps) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(s.a.ctx))
	done := make(chan struct{}, 2)
	go func() { d.queue.Run(ctx); done <- struct{}{} }()
	go func() {
		defer func() { done <- struct{}{} }()
		t := time.NewTicker(5 * time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				pluginCleanup(ctx, s.log, d)
			}
		}
	}()
	// At shutdown (after the HTTP server has drained, so no new push or
	// message can start): let Web Push deliveries finish, then stop the
	// dispatcher and cleanup; the database closes only after this returns.
	s.stops = append(s.stops, func() {
		if d.push != nil {
			d.push.Wait()
		}
		cancel()
		<-done
		<-done
	})
}

// pluginCleanup deletes expired CAPTCHA challenges, codes, rate counters,
// recovery flows and delivered messages. Every instance may run it; each pass is
// idempotent.
func pluginCleanup(ctx context.Context, log *slog.Logger, d *pluginDeps) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	day := time.Now().UTC().Add(-24 * time.Hour)
	if b, ok := d.captcha.(*captcha.BuiltinVerifier); ok {
		if _, err := b.Cleanup(ctx, time.Now().UTC()); err != nil {
			log.Warn("cleanup: captcha", "err", err)
		}
	}
	if _, err := d.codes.Cleanup(ctx, time.Now().UTC()); err != nil {
		log.Warn("cleanup: codes", "err", err)
	}
	if _, err := d.limiter.Cleanup(ctx); err != nil {
		log.Warn("cleanup: rate counters", "err", err)
	}
	if err := d.push.Cleanup(ctx, time.Now().UTC()); err != nil {
		log.Warn("cleanup: push", "err", err)
	}
	if _, err := d.flows.Cleanup(ctx, 500); err != nil {
		log.Warn("cleanup: recovery flows", "err", err)
	}
	if d.plugin != nil {
		// Failed proofs past the block window and spent report links.
		if err := d.plugin.Cleanup(ctx); err != nil {
			log.Warn("cleanup: recovery failures and report links", "err", err)
		}
	}
	if err := d.queue.Cleanup(ctx, day); err != nil {
		log.Warn("cleanup: outbox", "err", err)
	}
}
