package compose

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/plugin/captcha"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/email"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/plugin/method/questions"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/ui"
	lkmail "github.com/latchkeyid/latchkey/ui/mail"
)

// Config is what the plugin is built from. DB, Keys, Users, Audit, Policy,
// SignIn and Issuer are required; a nil sender leaves its methods out.
type Config struct {
	// Renderer renders the pages (nil: ui.New(), Latchkey's own brand).
	Renderer *ui.Renderer
	DB       *gorm.DB
	Keys     *secret.Keyring
	Users    *user.Store
	Audit    *audit.Log
	Policy   *policy.Store
	SignIn   plugin.SignIn
	// Accounts resets, unlocks and revokes in the provider's transactions;
	// the plugin's own revoker (its flows and challenges) is registered
	// with it.
	Accounts *account.Service
	// Issuer is LATCHKEY_ISSUER; links, the TOTP issuer and push URLs use it.
	Issuer string
	// Email delivers mail (SMTP, or the dev outbox); nil: no email method.
	Email sender.Sender
	// SMS and Voice deliver phone codes; both nil: no phone methods.
	SMS, Voice sender.Sender
	// Region is LATCHKEY_DEFAULT_REGION.
	Region string
	// DecoyMailDomains are the domains decoy addresses use
	// (LATCHKEY_DECOY_MAIL_DOMAINS; empty: the real users' domains).
	DecoyMailDomains []string
	// PhoneLimits are the toll-fraud limits (nil: phone.DefaultLimits).
	PhoneLimits *phone.Limits
	// Push is the push method's configuration; Issuer, Audit and Now are
	// filled in when empty.
	Push push.Config
	// Captcha guards the recovery start.
	Captcha captcha.Verifier
	// QuestionHasher hashes security answers (nil: the directory's hasher).
	QuestionHasher *password.Hasher
	PasswordPolicy password.Policy
	// Queue options (poll interval, clock) for the outbox.
	QueueOptions []sender.QueueOption
	// CleanupEvery is the period of the expiry cleanup Run does (default 5 min).
	CleanupEvery time.Duration
	Now          func() time.Time
	Log          *slog.Logger
}

// SSPR is the built plugin with the parts that run beside it.
type SSPR struct {
	Plugin      *plugin.Plugin
	Methods     *method.Registry
	Enrollments *method.Store
	Codes       *method.Codes
	Queue       *sender.Queue
	Limiter     *ratelimit.Limiter
	Captcha     captcha.Verifier
	Email       *email.Method // nil without an email sender
	TOTP        *totp.Method
	Questions   *questions.Method
	Push        *push.Method
	Phones      map[method.Name]*phone.Method

	mail  *lkmail.Templates
	brand string // the product name of mails, texts and calls
	cfg   Config
}

// Mail is the mail templates, with the brand of every mail the plugin sends.
func (s *SSPR) Mail() *lkmail.Templates { return s.mail }

// Build builds every method the configured senders can deliver, the
// registry and the plugin, with its routes not yet mounted.
func Build(c Config) (*SSPR, error) {
	s, err := Methods(c)
	if err != nil {
		return nil, err
	}
	c = s.cfg
	renderer := c.Renderer
	if renderer == nil {
		if renderer, err = ui.New(); err != nil {
			return nil, err
		}
	}
	d := plugin.Deps{
		DB: c.DB, Users: c.Users, Audit: c.Audit, Keys: c.Keys, Methods: s.Methods, Enrollments: s.Enrollments,
		Codes: s.Codes, Policy: c.Policy, Queue: s.Queue, Captcha: c.Captcha, SignIn: c.SignIn,
		Renderer: renderer, Issuer: c.Issuer, PasswordPolicy: c.PasswordPolicy, Mail: s.mail, Limiter: s.Limiter,
		Now: c.Now, DecoyMailDomains: c.DecoyMailDomains,
	}
	if c.Accounts != nil { // a nil *Service in the interface would not read as missing
		d.Accounts = c.Accounts
	}
	s.Plugin, err = plugin.New(d)
	if err != nil {
		return nil, err
	}
	if c.Accounts != nil {
		c.Accounts.Register(s.Plugin.Revoker())
	}
	return s, nil
}

// Methods builds the methods, their registry and the stores they share,
// without the plugin's pages: enough for admin commands that provision a
// method.
func Methods(c Config) (*SSPR, error) {
	if c.DB == nil || c.Keys == nil || c.Users == nil || c.Audit == nil || c.Policy == nil {
		return nil, errors.New("compose: DB, Keys, Users, Audit and Policy are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.CleanupEvery <= 0 {
		c.CleanupEvery = 5 * time.Minute
	}
	if c.QuestionHasher == nil {
		c.QuestionHasher = c.Users.Hasher()
	}
	s := &SSPR{cfg: c, Captcha: c.Captcha, Phones: map[method.Name]*phone.Method{}}
	var senders []sender.Sender
	if c.Email != nil {
		senders = append(senders, c.Email)
	}
	s.Queue = sender.NewQueue(c.DB, c.Keys, senders, append([]sender.QueueOption{sender.WithLogger(c.Log)}, c.QueueOptions...)...)
	// The product name mails, texts, calls and authenticator apps show:
	// the configured brand's, as on the pages.
	brand := ui.Brand{}.ProductName()
	if c.Renderer != nil {
		brand = c.Renderer.Brand().ProductName()
	}
	s.brand = brand
	tmpl, err := lkmail.New(c.Issuer, lkmail.WithBrand(brand))
	if err != nil {
		return nil, fmt.Errorf("compose: mail templates: %w", err)
	}
	s.mail = tmpl
	s.Codes = method.NewCodes(c.DB, c.Keys, method.WithCodeClock(c.Now))
	s.Limiter = ratelimit.New(c.DB, ratelimit.WithClock(c.Now))
	s.Enrollments = method.NewStore(c.DB, method.WithStoreClock(c.Now))
	s.TOTP = totp.New(s.Enrollments, c.Keys, brand, totp.WithClock(c.Now))
	s.Questions = questions.New(c.DB, c.QuestionHasher, c.Keys, func(ctx context.Context) (int, int, error) {
		pol, err := c.Policy.Get(ctx)
		return pol.QuestionsRegister, pol.QuestionsAsk, err
	})
	methods := []method.Method{s.TOTP, s.Questions}
	if s.Queue.Available(sender.Email) {
		s.Email = email.New(s.Codes, s.Queue, tmpl, c.Keys, email.WithLimiter(s.Limiter, email.DefaultLimits))
		methods = append(methods, s.Email)
	}
	phones, err := s.phones()
	if err != nil {
		return nil, err
	}
	methods = append(methods, phones...)
	if s.Push, err = s.push(); err != nil {
		return nil, err
	}
	methods = append(methods, s.Push)
	if s.Methods, err = method.NewRegistry(methods...); err != nil {
		return nil, err
	}
	return s, nil
}

// phones builds the phone methods the senders can serve; the country
// allowlist is the policy's, read at each registration and send.
func (s *SSPR) phones() ([]method.Method, error) {
	c := s.cfg
	if c.SMS == nil && c.Voice == nil {
		return nil, nil
	}
	setup := phone.Setup{SMS: c.SMS, Voice: c.Voice, DefaultRegion: c.Region, Brand: s.brand,
		Audit: c.Audit, Log: c.Log, Limits: c.PhoneLimits,
		Countries: func(ctx context.Context) ([]string, error) {
			pol, err := c.Policy.Get(ctx)
			if err != nil {
				return nil, err
			}
			return pol.PhoneAllowlist(c.Region), nil
		},
	}
	if u, err := url.Parse(c.Issuer); err == nil {
		setup.Domain = u.Hostname()
	}
	ms, _, err := phone.Methods(s.Codes, c.Keys, s.Limiter, setup)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		s.Phones[m.Name()] = m.(*phone.Method)
	}
	return ms, nil
}

// push builds the push method: the fraud-report block comes from the
// policy unless the configuration sets one.
func (s *SSPR) push() (*push.Method, error) {
	c := s.cfg
	pc := c.Push
	if pc.Issuer == "" {
		pc.Issuer = c.Issuer
	}
	if pc.Audit == nil {
		pc.Audit = c.Audit
	}
	if pc.Now == nil {
		pc.Now = c.Now
	}
	if pc.ReportBlockFunc == nil {
		pc.ReportBlockFunc = func(ctx context.Context) (time.Duration, error) {
			pol, err := c.Policy.Get(ctx)
			return pol.PushReportBlock(), err
		}
	}
	return push.New(c.DB, s.Enrollments, c.Keys, pc)
}

// Mount registers the plugin's pages and the push device API on e.
func (s *SSPR) Mount(e *echo.Echo) {
	s.Plugin.Routes(e.Group(""))
	s.Push.Routes(e.Group(""))
}

// Run delivers queued messages and deletes expired state every
// CleanupEvery until ctx ends; stop waits for both.
func (s *SSPR) Run(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { s.Queue.Run(ctx); done <- struct{}{} }()
	go func() {
		defer func() { done <- struct{}{} }()
		t := time.NewTicker(s.cfg.CleanupEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.Cleanup(ctx); err != nil {
					s.cfg.Log.Warn("sspr cleanup", "err", err)
				}
			}
		}
	}()
	return func() {
		// Let Web Push deliveries finish before the dispatcher stops and
		// the database closes.
		s.Push.Wait()
		cancel()
		<-done
		<-done
	}
}

// Cleanup deletes expired CAPTCHA challenges, codes, rate counters, push
// requests, flows, failed proofs, report links and delivered messages. Every
// instance may run it; each pass is bounded and idempotent, and one failing
// part does not stop the others.
func (s *SSPR) Cleanup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	now := s.cfg.Now().UTC()
	var errs []error
	if b, ok := s.Captcha.(*captcha.BuiltinVerifier); ok {
		if _, err := b.Cleanup(ctx, now); err != nil {
			errs = append(errs, fmt.Errorf("captcha: %w", err))
		}
	}
	if _, err := s.Codes.Cleanup(ctx, now); err != nil {
		errs = append(errs, fmt.Errorf("codes: %w", err))
	}
	if _, err := s.Limiter.Cleanup(ctx); err != nil {
		errs = append(errs, fmt.Errorf("rate counters: %w", err))
	}
	if err := s.Push.Cleanup(ctx, now); err != nil {
		errs = append(errs, fmt.Errorf("push: %w", err))
	}
	if err := s.Plugin.Cleanup(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := s.Queue.Cleanup(ctx, now.Add(-24*time.Hour)); err != nil {
		errs = append(errs, fmt.Errorf("outbox: %w", err))
	}
	return errors.Join(errs...)
}
