package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchkeyid/latchkey/provider/user"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/captcha"
	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/policy"
	"github.com/latchkeyid/latchkey/plugin/proof"
	"github.com/latchkeyid/latchkey/plugin/ratelimit"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui"
	lkmail "github.com/latchkeyid/latchkey/ui/mail"
)

// Deps is what the plugin is built from; cmd fills it. Every field except
// Now and PasswordPolicy is required.
type Deps struct {
	DB          *gorm.DB
	Users       Directory
	Audit       *audit.Log
	Keys        *secret.Keyring
	Methods     *method.Registry
	Enrollments *method.Store
	Codes       *method.Codes // pending challenges, invalidated by a reset
	Policy      *policy.Store
	Queue       *sender.Queue // durable outbox: nothing is sent inline
	Captcha     captcha.Verifier
	// Limiter, when set, limits code sends per client IP (the methods
	// limit per address and per user themselves).
	Limiter *ratelimit.Limiter
	// SendsPerIP overrides DefaultSendsPerIP.
	SendsPerIP ratelimit.Rule
	SignIn     SignIn
	// Accounts resets, unlocks and revokes in the provider's transaction;
	// register Plugin.Revoker with it.
	Accounts Accounts
	Renderer *ui.Renderer
	// Mail renders notifications (ui/mail); nil: its templates for Issuer
	// and the Renderer's brand.
	Mail *lkmail.Templates
	// Issuer is the public URL (LATCHKEY_ISSUER): every link in mail and
	// pages is built from it, never from the Host header.
	Issuer         string
	PasswordPolicy password.Policy
	// DecoyMailDomains are the mail domains decoy addresses are drawn
	// from (LATCHKEY_DECOY_MAIL_DOMAINS); empty means the domains real
	// users registered.
	DecoyMailDomains []string
	// MethodPagePerFlow and MethodPagePerIP override the limits on loading
	// the method-choice page (DefaultMethodPagePerFlow, DefaultMethodPagePerIP).
	MethodPagePerFlow, MethodPagePerIP ratelimit.Rule
	// CaptchaPerIP overrides DefaultCaptchaPerIP.
	CaptchaPerIP ratelimit.Rule
	Now          func() time.Time
}

// DefaultSendsPerIP limits codes sent (and decoy challenges) per client IP.
var DefaultSendsPerIP = ratelimit.Rule{Scope: "sspr-send-ip", Limit: 30, Window: 10 * time.Minute}

// The method-choice page may be loaded this often, per flow and per
// client IP, real and decoy alike: each load is a sample an attacker could
// time, so samples are scarce.
var (
	DefaultMethodPagePerFlow = ratelimit.Rule{Scope: "sspr-methods-flow", Limit: 20, Window: 10 * time.Minute}
	DefaultMethodPagePerIP   = ratelimit.Rule{Scope: "sspr-methods-ip", Limit: 200, Window: 10 * time.Minute}
)

// DefaultCaptchaPerIP limits CAPTCHA answers checked per client IP: each
// check spends the CAPTCHA with a row (kept until it expires), so a flood
// of answers from one address is refused before it writes anything.
var DefaultCaptchaPerIP = ratelimit.Rule{Scope: "sspr-captcha-ip", Limit: 60, Window: 10 * time.Minute}

// StepUpWindow is how long a step-up on /security-info lasts.
const StepUpWindow = 10 * time.Minute

// Plugin serves the SSPR pages. Build it with New.
type Plugin struct {
	d        Deps
	secure   bool
	issuer   *url.URL
	flows    *flow.Store
	failures *flow.Failures
	proofs   *proof.Engine // every proof a page asks for goes through it
	cen      *decoyCensus
	notes    *notifier // every feature mails users through it
}

// New checks deps and builds the plugin.
func New(d Deps) (*Plugin, error) { return build(d, true) }

// NewNotifier builds a plugin that serves no pages, only mails users about
// changes made elsewhere (MethodChanged): admin tools need no CAPTCHA,
// sign-in or templates of pages.
func NewNotifier(d Deps) (*Plugin, error) { return build(d, false) }

func build(d Deps, pages bool) (*Plugin, error) {
	var missing []string
	for name, nilv := range map[string]bool{
		"DB": d.DB == nil, "Users": d.Users == nil, "Audit": d.Audit == nil, "Keys": d.Keys == nil,
		"Methods": d.Methods == nil, "Enrollments": d.Enrollments == nil, "Codes": d.Codes == nil && pages,
		"Policy": d.Policy == nil, "Queue": d.Queue == nil, "Captcha": d.Captcha == nil && pages,
		"SignIn": d.SignIn == nil && pages, "Renderer": d.Renderer == nil && pages,
		"Accounts": d.Accounts == nil && pages,
	} {
		if nilv {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("plugin: missing dependencies: %s", strings.Join(missing, ", "))
	}
	iss, err := url.Parse(d.Issuer)
	if err != nil || (iss.Scheme != "http" && iss.Scheme != "https") || iss.Host == "" {
		return nil, fmt.Errorf("plugin: issuer must be an absolute http(s) URL, not %q", d.Issuer)
	}
	if d.Mail == nil {
		// The notifications' own templates: no mail is worded in Go.
		brand := ""
		if d.Renderer != nil {
			brand = d.Renderer.Brand().ProductName()
		}
		if d.Mail, err = lkmail.New(d.Issuer, lkmail.WithBrand(brand)); err != nil {
			return nil, fmt.Errorf("plugin: %w", err)
		}
	}
	for _, page := range pageNames {
		if pages && !d.Renderer.Has(page) {
			return nil, fmt.Errorf("plugin: template %q missing", page)
		}
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.SendsPerIP == (ratelimit.Rule{}) {
		d.SendsPerIP = DefaultSendsPerIP
	}
	if d.MethodPagePerFlow == (ratelimit.Rule{}) {
		d.MethodPagePerFlow = DefaultMethodPagePerFlow
	}
	if d.MethodPagePerIP == (ratelimit.Rule{}) {
		d.MethodPagePerIP = DefaultMethodPagePerIP
	}
	if d.CaptchaPerIP == (ratelimit.Rule{}) {
		d.CaptchaPerIP = DefaultCaptchaPerIP
	}
	var doms []string
	for _, dom := range d.DecoyMailDomains {
		if dom = strings.TrimPrefix(user.Normalize(dom), "@"); dom != "" && !slices.Contains(doms, dom) {
			doms = append(doms, dom)
		}
	}
	d.DecoyMailDomains = doms
	if d.PasswordPolicy == (password.Policy{}) {
		d.PasswordPolicy = password.DefaultPolicy
	}
	if err := d.PasswordPolicy.Validate(); err != nil {
		return nil, fmt.Errorf("plugin: %w", err)
	}
	now := func() time.Time { return d.Now().UTC() }
	flows, failures := flow.NewStore(d.DB, flow.WithClock(now)), flow.NewFailures(d.DB, now)
	proofs, err := proof.New(proof.Config{DB: d.DB, Flows: flows, Failures: failures,
		Challenges: d.Keys.Box("sspr-challenge"), Audit: d.Audit, Enrollments: d.Enrollments})
	if err != nil {
		return nil, fmt.Errorf("plugin: %w", err)
	}
	p := &Plugin{
		d: d, secure: iss.Scheme == "https", issuer: iss,
		flows: flows, failures: failures, proofs: proofs,
		cen: &decoyCensus{},
	}
	p.notes = &notifier{p}
	return p, nil
}

// pageNames lists the templates the plugin renders (checked at start-up).
var pageNames = []string{
	"recover", "recover-intent", "recover-method", "recover-verify", "recover-password",
	"recover-done", "recover-message", "recover-report",
	"security-info", "security-info-add", "security-info-verify", "security-info-register",
	"security-info-add-phone", "security-info-add-app", "security-info-remove", "security-info-done",
	"security-info-password", "security-info-setup",
}

// Mount builds the plugin and registers its routes on g (normally the
// root group of the provider's Echo). Every route gets the security headers
// (CSP frame-ancestors 'none', nosniff, HSTS under https), is no-store, and every
// POST needs a CSRF token (the provider's middleware when it already runs,
// else the plugin's own).
func Mount(g *echo.Group, d Deps) (*Plugin, error) {
	p, err := New(d)
	if err != nil {
		return nil, err
	}
	p.Routes(g)
	return p, nil
}

// requestFacts hands methods the client IP (per-IP send limits) and the
// preferred languages (voice calls) through the request context.
func requestFacts(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		ctx := method.WithRequest(r.Context(), method.Request{
			IP: c.RealIP(), UserAgent: r.UserAgent(), AcceptLanguage: r.Header.Get("Accept-Language"),
		})
		c.SetRequest(r.WithContext(ctx))
		return next(c)
	}
}

// Routes registers the plugin's handlers on g.
func (p *Plugin) Routes(g *echo.Group) {
	csrf := web.CSRF(p.secure)
	once := func(next echo.HandlerFunc) echo.HandlerFunc {
		withCSRF := csrf(next)
		return func(c echo.Context) error {
			if web.CSRFToken(c) != "" { // the host app's CSRF already ran
				return next(c)
			}
			return withCSRF(c)
		}
	}
	r := g.Group("", web.SecurityHeaders(p.secure), web.NoStore(), noReferrer, once, requestFacts, p.signInLanguage)
	// Only the start page shows the CAPTCHA: only it allows the widget's
	// origins; every other page keeps the strict policy.
	o := captcha.OriginsOf(p.d.Captcha.Kind())
	widget := web.WithSources(web.Sources{Script: o.Script, Frame: o.Frame, Style: o.Style, Connect: o.Connect})
	rec, info, notes := &recovery{p}, &securityInfo{p}, p.notes
	reg := &registration{info}
	r.GET("/recover", rec.startPage, widget)
	r.POST("/recover", rec.start, widget)
	r.GET("/recover/:flow", rec.intentPage)
	r.POST("/recover/:flow", rec.chooseIntent)
	r.GET("/recover/:flow/method", rec.methodPage)
	r.POST("/recover/:flow/method", rec.chooseMethod)
	r.GET("/recover/:flow/verify", rec.verifyPage)
	r.POST("/recover/:flow/verify", rec.verify)
	r.POST("/recover/:flow/resend", rec.resend)
	r.GET("/recover/:flow/password", rec.passwordPage)
	r.POST("/recover/:flow/password", rec.setPassword)
	r.POST("/recover/:flow/strength", rec.strength)
	r.GET("/recover/:flow/done", rec.donePage)
	r.GET("/recover/report/:token", notes.reportPage)
	r.POST("/recover/report/:token", notes.report)

	r.GET("/security-info", info.securityInfo)
	r.POST("/security-info/verify", info.stepUpChoose)
	r.GET("/security-info/second-proof", info.secondProofPage)
	r.POST("/security-info/verify/:flow", info.stepUpVerify)
	r.GET("/security-info/add/:method", info.addPage)
	r.POST("/security-info/add/:method", info.addBegin)
	r.POST("/security-info/add/:method/:flow", info.addFinish)
	r.GET("/security-info/remove/:enrollment", info.removePage)
	r.POST("/security-info/remove", info.remove)
	r.POST("/security-info/sign-out-everywhere", info.signOut)
	r.GET("/security-info/password", info.passwordPage)
	r.POST("/security-info/password", info.changePassword)
	r.POST("/security-info/password/strength", info.passwordStrength)
	r.GET(SetupPath, info.setupPage)
	r.POST(SetupPath, info.setupPassword)
	r.POST("/security-info/confirm", info.reconfirm)
	r.GET("/security-info/register/:flow", reg.registerPage)
	r.POST("/security-info/register/:flow/skip", reg.skip)
	r.POST("/security-info/register/:flow/continue", reg.continueToApp)

	// The built-in CAPTCHA's picture and sound; hosted kinds need nothing.
	if cs, ok := p.d.Captcha.(captchaServer); ok {
		g.GET(cs.Prefix()+"/*", echo.WrapHandler(cs.Handler()))
	}
}

// captchaServer is a CAPTCHA that serves its own challenges (builtin).
type captchaServer interface {
	Prefix() string
	Handler() http.Handler
}

// noReferrer keeps codes and flow ids out of Referer headers even if the
// host app does not set the policy.
func noReferrer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Referrer-Policy", "no-referrer")
		return next(c)
	}
}

// link builds an absolute URL under the issuer (mail and pages).
func (p *Plugin) link(path string) string {
	u := *p.issuer
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawQuery = ""
	return u.String()
}

// path is an issuer-relative path for redirects and form actions (the
// issuer may carry a path prefix).
func (p *Plugin) path(path string) string { return strings.TrimRight(p.issuer.Path, "/") + path }

// errFlow is the one answer to every invalid, expired, foreign or
// out-of-order flow request: a 403 that says nothing about why.
var errFlow = &web.PageError{
	Status: 403, Title: "recover.flow.title", Message: "recover.flow.message",
	Link: "/recover", LinkText: "recover.flow.start_again",
}

func flowErr(err error) error {
	if errors.Is(err, flow.ErrNotFound) || errors.Is(err, flow.ErrExpired) ||
		errors.Is(err, flow.ErrOutOfOrder) || errors.Is(err, flow.ErrConflict) {
		return &web.PageError{Status: errFlow.Status, Title: errFlow.Title, Message: errFlow.Message,
			Link: errFlow.Link, LinkText: errFlow.LinkText, Err: err}
	}
	return err
}

// sendAllowed applies the per-IP send limit (decoys included, so the limit
// reveals nothing).
func (p *Plugin) sendAllowed(c echo.Context) (bool, error) {
	if p.d.Limiter == nil {
		return true, nil
	}
	ok, _, err := p.d.SendsPerIP.Allow(c.Request().Context(), p.d.Limiter, c.RealIP())
	return ok, err
}

// pageAllowed applies the method page's load limits (decoys included).
func (p *Plugin) pageAllowed(c echo.Context, f *flow.Flow) (bool, error) {
	if p.d.Limiter == nil {
		return true, nil
	}
	ctx := c.Request().Context()
	for _, hit := range []struct {
		r   ratelimit.Rule
		key string
	}{{p.d.MethodPagePerFlow, f.ID}, {p.d.MethodPagePerIP, c.RealIP()}} {
		ok, _, err := hit.r.Allow(ctx, p.d.Limiter, hit.key)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// captchaAllowed applies the per-IP limit on CAPTCHA checks.
func (p *Plugin) captchaAllowed(c echo.Context) (bool, error) {
	if p.d.Limiter == nil {
		return true, nil
	}
	ok, _, err := p.d.CaptchaPerIP.Allow(c.Request().Context(), p.d.Limiter, c.RealIP())
	return ok, err
}

// SetSendsPerIP replaces the per-IP send limit (tests, and cmd when the
// limiter is built after the plugin).
func (p *Plugin) SetSendsPerIP(l *ratelimit.Limiter, r ratelimit.Rule) {
	p.d.Limiter, p.d.SendsPerIP = l, r
}

// Cleanup deletes expired plugin state: flows a day past expiry, failed
// proofs older than the block window and expired or used report links.
// cmd runs it periodically beside the provider's cleanup.
func (p *Plugin) Cleanup(ctx context.Context) error {
	if _, err := p.flows.Cleanup(ctx, 1000); err != nil {
		return fmt.Errorf("plugin: cleanup flows: %w", err)
	}
	if err := p.proofs.Cleanup(ctx); err != nil {
		return fmt.Errorf("plugin: %w", err)
	}
	now := p.d.Now().UTC()
	g := p.d.DB.WithContext(ctx)
	if err := g.Exec("DELETE FROM sspr_failures WHERE at < ?", now.Add(-flow.FailureWindow)).Error; err != nil {
		return fmt.Errorf("plugin: cleanup failures: %w", err)
	}
	if err := g.Where("expires_at < ? OR used_at IS NOT NULL", now).Delete(&reportToken{}).Error; err != nil {
		return fmt.Errorf("plugin: cleanup report links: %w", err)
	}
	return nil
}

// The pages are served by one handler type per feature, each thin over
// the shared core (*Plugin: dependencies, rendering, audit, flows and the
// proof engine).
type (
	// recovery serves /recover: start, reason, method, verify, password.
	recovery struct{ *Plugin }
	// securityInfo serves /security-info: the list, step-up, add, remove.
	securityInfo struct{ *Plugin }
	// registration serves the registration prompt after sign-in, over
	// Security info's access rules and add list.
	registration struct{ *securityInfo }
	// notifier mails users about changes and serves "This wasn't me".
	notifier struct{ *Plugin }
)
