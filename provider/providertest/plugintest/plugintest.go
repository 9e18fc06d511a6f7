package plugintest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/plugin/authenticator"
	"github.com/latchkeyid/latchkey/plugin/captcha"
	"github.com/latchkeyid/latchkey/plugin/compose"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/email"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/plugin/method/questions"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/plugin/schema"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/plugin/sender/outbox"
	"github.com/latchkeyid/latchkey/plugin/sender/smtp"
	"github.com/latchkeyid/latchkey/plugin/sender/smtp/smtptest"
	"github.com/latchkeyid/latchkey/plugin/sender/twilio"
	"github.com/latchkeyid/latchkey/plugin/sender/twilio/twiliotest"
	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/password"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/ui"
)

// AllMethods names every method kind the plugin has.
var AllMethods = []string{"push", "totp", "mobile", "alternate-phone", "office-phone", "email", "questions"}

// FastHash keeps the security questions' hashing quick; production
// parameters are tested in provider/password.
var FastHash = password.Params{Memory: 1024, Time: 1, Threads: 1}

// Options say what a test needs; the zero value is every method
// registered, none enabled.
type Options struct {
	// Methods is the policy's list of enabled methods (all are registered,
	// as cmd does, so a test may enable more later).
	Methods []string
	// RegisterAtSignIn keeps the policy's forced registration at sign-in;
	// off by default, so a sign-in goes straight back to the app.
	RegisterAtSignIn bool
	// Region is LATCHKEY_DEFAULT_REGION ("US" when empty).
	Region string
	// PhoneLimits edits the toll-fraud limits (phone.DefaultLimits).
	PhoneLimits func(*phone.Limits)
	// Push edits the push method's configuration.
	Push func(*push.Config)
	// SMTP sends mail through a real SMTP server on loopback (Env.SMTP)
	// with the queue running; otherwise mail waits in the queue until
	// MailCode or Drain delivers it to Env.Outbox.
	SMTP bool
	// Lockout overrides the provider's lockout policy.
	Lockout *user.Lockout
	// Captcha replaces the built-in CAPTCHA (Env.Captcha is then nil), e.g.
	// with a hosted kind checked against a stand-in siteverify server.
	Captcha captcha.Verifier
	// Keyring and Reuse are providertest.Config's: a restart on the same
	// database, a restored backup, a rotation of LATCHKEY_SECRET.
	Keyring *secret.Keyring
	Reuse   bool
	// Brand is LATCHKEY_BRAND_*: the pages, mails, texts and calls of the
	// provider and the plugin show it.
	Brand *ui.Brand
	// Mount, when set, runs after the plugin is mounted (the admin API and
	// console of cmd's tests).
	Mount func(s *pt.Server, e *echo.Echo)
}

// Env is a running provider with the plugin.
type Env struct {
	Server  *pt.Server
	Gateway *twiliotest.Server
	SMTP    *smtptest.Server // with Options.SMTP
	Outbox  *outbox.Outbox   // without Options.SMTP
	Queue   *sender.Queue
	Store   *method.Store
	Policy  *policy.Store
	Captcha *captcha.BuiltinVerifier
	Plugin  *plugin.Plugin
	// SSPR is the plugin as compose built it (as serve builds it).
	SSPR *compose.SSPR

	Email     *email.Method
	TOTP      *totp.Method
	Questions *questions.Method
	Push      *push.Method
	Phones    map[method.Name]*phone.Method
	// Client talks to the push API as the Latchkey Authenticator does.
	Client *authenticator.Client

	render *ui.Renderer // with Options.Brand: the provider's and the plugin's
}

// SignIn presents the provider to the plugin as cmd does: embedding it,
// so the optional plugin.AppNamer comes along.
type SignIn struct{ *provider.Provider }

// Current is the provider's session as the plugin's Account.
func (a SignIn) Current(c echo.Context) (plugin.Account, bool) {
	acc, ok := a.Provider.Current(c)
	return plugin.Account(acc), ok
}

var (
	_ plugin.SignIn   = SignIn{}
	_ plugin.AppNamer = SignIn{}
)

// hook forwards the provider's AfterSignIn to the plugin, built later.
type hook struct{ p *plugin.Plugin }

func (h *hook) AfterSignIn(c echo.Context, uid, ar string) (string, error) {
	return h.p.AfterSignIn(c, uid, ar)
}

// Start runs the provider on dbURL (from dbtest.Each) with the plugin
// mounted; everything stops when the test ends.
func Start(t testing.TB, dbURL string, o Options) *Env {
	t.Helper()
	if o.Region == "" {
		o.Region = "US"
	}
	x := &Env{Gateway: twiliotest.New(t), Phones: map[method.Name]*phone.Method{}}
	if o.SMTP {
		x.SMTP = smtptest.Start(t)
	}
	h := &hook{}
	var render *ui.Renderer
	if o.Brand != nil {
		var err error
		if render, err = ui.New(ui.WithBrand(*o.Brand)); err != nil {
			t.Fatal(err)
		}
	}
	x.render = render
	x.Server = pt.Start(t, dbURL, pt.Config{
		Lockout: o.Lockout,
		Keyring: o.Keyring,
		Reuse:   o.Reuse,
		Provider: func(po *provider.Options) {
			po.AfterSignIn = h
			if render != nil {
				po.Renderer = render
			}
		},
		Mount: func(s *pt.Server, e *echo.Echo) {
			var err error
			h.p, err = x.mount(t, s, e, o)
			if err != nil {
				t.Fatal(err)
			}
			x.Plugin = h.p
			if o.Mount != nil {
				o.Mount(s, e)
			}
		},
	})
	x.Client = &authenticator.Client{HTTP: x.Server.HTTP.Client(), Now: x.Server.Clock.Now}
	return x
}

func (x *Env) mount(t testing.TB, s *pt.Server, e *echo.Echo, o Options) (*plugin.Plugin, error) {
	ctx := context.Background()
	if err := db.Migrate(ctx, s.DB, schema.Set()); err != nil {
		return nil, err
	}
	c := compose.Config{Renderer: x.render, DB: s.DB, Keys: s.Keyring, Users: s.Users, Audit: s.Audit, SignIn: SignIn{s.Provider},
		Accounts: s.Accounts,
		Issuer:   s.URL, Region: o.Region, QuestionHasher: password.NewHasher(FastHash), Now: s.Clock.Now,
		Log:          slog.New(slog.DiscardHandler),
		QueueOptions: []sender.QueueOption{sender.WithPoll(20 * time.Millisecond), sender.WithQueueClock(s.Clock.Now)},
	}
	if c.Captcha = o.Captcha; c.Captcha == nil {
		x.Captcha = captcha.NewBuiltin(s.DB, captcha.WithClock(s.Clock.Now), captcha.WithKeyring(s.Keyring))
		c.Captcha = x.Captcha
	}
	if o.SMTP {
		var err error
		if c.Email, err = smtp.New(x.SMTP.URL("latchkey@example.com")); err != nil {
			return nil, err
		}
	} else {
		x.Outbox = outbox.New()
		c.Email = x.Outbox
	}
	cl, err := twilio.New(x.Gateway.Config())
	if err != nil {
		return nil, err
	}
	c.SMS, c.Voice = cl.SMS(), cl.Voice()
	limits := phone.DefaultLimits
	if o.PhoneLimits != nil {
		o.PhoneLimits(&limits)
	}
	c.PhoneLimits = &limits
	if o.Push != nil {
		o.Push(&c.Push)
	}

	x.Policy = policy.NewStore(s.DB, policy.Default(o.Methods))
	pol, err := x.Policy.Get(ctx)
	if err != nil {
		return nil, err
	}
	pol.Methods, pol.RegisterAtSignIn = append([]string{}, o.Methods...), o.RegisterAtSignIn
	if err := x.Policy.Set(ctx, pol); err != nil {
		return nil, err
	}
	c.Policy = x.Policy

	sspr, err := compose.Build(c)
	if err != nil {
		return nil, err
	}
	sspr.Mount(e)
	x.SSPR = sspr
	x.Queue, x.Store = sspr.Queue, sspr.Enrollments
	x.Email, x.TOTP, x.Questions, x.Push, x.Phones = sspr.Email, sspr.TOTP, sspr.Questions, sspr.Push, sspr.Phones
	if o.SMTP {
		qctx, cancel := context.WithCancel(ctx)
		t.Cleanup(cancel)
		go x.Queue.Run(qctx)
	}
	return sspr.Plugin, nil
}
