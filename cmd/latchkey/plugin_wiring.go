package main

import (
	"context"
	"fmt"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/plugin/captcha"
	"github.com/latchkeyid/latchkey/plugin/compose"
	"github.com/latchkeyid/latchkey/plugin/method/phone"
	"github.com/latchkeyid/latchkey/plugin/method/push"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/plugin/sender/outbox"
	"github.com/latchkeyid/latchkey/plugin/sender/smtp"
	"github.com/latchkeyid/latchkey/plugin/sender/twilio"
	"github.com/latchkeyid/latchkey/provider"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/config"
	"github.com/latchkeyid/latchkey/provider/opstore"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
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

// Test hooks (nil in production): pushConfigHook adjusts the push
// method's configuration before it is built (a loopback push service),
// pushHook learns the method serve built.
var (
	pushConfigHook func(*push.Config)
	pushHook       func(*push.Method)
)

// ssprConfig is the plugin's configuration from serve's settings: mail
// through SMTP (or the dev outbox), phones through the Twilio API (or the
// dev outbox), push places from LATCHKEY_PUSH_NETWORKS. box is the dev
// outbox when one is used.
func (s *server) ssprConfig(g *gorm.DB, k *secret.Keyring, users *user.Store, auditLog *audit.Log) (compose.Config, *outbox.Outbox, error) {
	a := s.a
	policies, err := a.policies()
	if err != nil {
		return compose.Config{}, nil, err
	}
	c := compose.Config{Renderer: s.render, DB: g, Keys: k, Users: users, Audit: auditLog, Policy: policies, Issuer: a.cfg.Issuer,
		Region: a.cfg.DefaultRegion, DecoyMailDomains: a.cfg.DecoyMailDomains, PhoneLimits: phoneLimits(a.cfg.Phone()), PasswordPolicy: a.policy(), Log: s.log,
		Push: push.Config{Locator: push.LocalLocator{}}}
	var box *outbox.Outbox
	if a.cfg.Dev && (a.cfg.SMTPURL == "" || a.cfg.TwilioAccountSID == "") {
		// Dev mode: messages are kept in memory and shown at /dev/outbox.
		box = outbox.New()
	}
	if a.cfg.SMTPURL != "" {
		if c.Email, err = smtp.New(a.cfg.SMTPURL); err != nil {
			return compose.Config{}, nil, fmt.Errorf("LATCHKEY_SMTP_URL: %w", err)
		}
	} else if box != nil {
		c.Email = box.Sender(sender.Email)
	}
	switch {
	case a.cfg.TwilioAccountSID != "":
		tw, err := twilio.New(twilio.Config{URL: a.cfg.TwilioURL, AccountSID: a.cfg.TwilioAccountSID,
			AuthToken: a.cfg.TwilioAuthToken, From: a.cfg.TwilioFrom})
		if err != nil {
			return compose.Config{}, nil, fmt.Errorf("twilio: %w", err)
		}
		c.SMS, c.Voice = tw.SMS(), tw.Voice()
	case box != nil:
		c.SMS, c.Voice = box.Sender(sender.SMS), box.Sender(sender.Voice)
	}
	if nets := a.cfg.Networks(); len(nets) > 0 {
		n, err := push.NewNetworks(nets, push.LocalLocator{})
		if err != nil {
			return compose.Config{}, nil, fmt.Errorf("LATCHKEY_PUSH_NETWORKS: %w", err)
		}
		c.Push.Locator = n
	}
	if pushConfigHook != nil {
		pushConfigHook(&c.Push)
	}
	return c, box, nil
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

// mountPlugin builds the SSPR plugin (/recover, /security-info, the push
// device API) from the configuration, mounts it on e and runs its outbox
// dispatcher and cleanup until shutdown.
func (s *server) mountPlugin(e *echo.Echo, p *provider.Provider, hook *afterSignIn, g *gorm.DB, k *secret.Keyring,
	users *user.Store, auditLog *audit.Log) error {
	a := s.a
	c, box, err := s.ssprConfig(g, k, users, auditLog)
	if err != nil {
		return err
	}
	c.SignIn = signInAdapter{p}
	c.Accounts = providerAccounts(g, users, opstore.NewRevoker(nil))
	s.accounts = c.Accounts
	c.Captcha, err = captcha.FromConfig(captcha.Config{
		Kind: captcha.Kind(a.cfg.Captcha), SiteKey: a.cfg.CaptchaSiteKey, Secret: a.cfg.CaptchaSecret,
		VerifyURL: a.cfg.CaptchaVerifyURL, Dev: a.cfg.Dev,
	}, g, captcha.WithKeyring(k))
	if err != nil {
		return err
	}
	sspr, err := compose.Build(c)
	if err != nil {
		return err
	}
	if pushHook != nil {
		pushHook(sspr.Push)
	}
	hook.p = sspr.Plugin
	s.sspr = sspr
	sspr.Mount(e)
	if box != nil {
		e.GET("/dev/outbox", echo.WrapHandler(box.Handler(s.render)), loopbackOnly)
	}
	// At shutdown (after the HTTP server has drained, so no new push or
	// message can start) stop lets Web Push deliveries finish, then stops
	// the dispatcher and cleanup; the database closes only after.
	s.stops = append(s.stops, sspr.Run(context.WithoutCancel(a.ctx)))
	return nil
}
