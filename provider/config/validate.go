package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// ErrInvalid wraps every problem Validate reports, so callers can tell a
// configuration error (exit 2, fix the deployment) from a runtime failure.
var ErrInvalid = errors.New("invalid configuration")

// Problem is one configuration error, naming the environment variable.
type Problem struct {
	Var string // e.g. "LATCHKEY_SECRET"
	Msg string
}

func (p *Problem) Error() string { return p.Var + ": " + p.Msg }

// Is makes errors.Is(err, ErrInvalid) true for every problem.
func (p *Problem) Is(target error) bool { return target == ErrInvalid }

// Minimum Argon2id cost accepted: OWASP's table of equivalent settings runs
// from 46 MiB × 1 pass to 7 MiB × 5 passes, i.e. memory × time ≥ 35 MiB.
const (
	minArgon2Memory     = 7 * 1024  // KiB
	minArgon2MemoryTime = 35 * 1024 // KiB × passes
	maxArgon2Memory     = 4 << 20   // KiB (4 GiB): beyond this a typo, not a choice
	maxAccessToken      = 10 * time.Minute
)

var regionRE = regexp.MustCompile(`^[A-Z]{2}$`)

// Validate reports every problem of c at once (errors.Join of *Problem);
// nil means c can be used. It never changes c.
func (c Config) Validate() error {
	var errs []error
	bad := func(v, format string, args ...any) {
		errs = append(errs, &Problem{Var: v, Msg: fmt.Sprintf(format, args...)})
	}

	if _, _, err := net.SplitHostPort(c.EffectiveListen()); err != nil {
		bad("LATCHKEY_LISTEN", "must be host:port or :port (%q)", c.Listen)
	}
	if c.MetricsListen != MetricsOff {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			bad("LATCHKEY_METRICS_LISTEN", "must be host:port, :port or off (%q)", c.MetricsListen)
		} else if c.MetricsListen == c.EffectiveListen() {
			bad("LATCHKEY_METRICS_LISTEN", "must differ from LATCHKEY_LISTEN: metrics are not for the public listener (%q)", c.MetricsListen)
		}
	}
	if a := c.PprofListen; a != "" && a != PprofOff {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("LATCHKEY_PPROF_LISTEN", "must be host:port, :port or off (%q)", a)
		} else if a == c.EffectiveListen() {
			bad("LATCHKEY_PPROF_LISTEN", "must differ from LATCHKEY_LISTEN: the profiler never shares the public listener")
		}
	}
	if msg := c.checkIssuer(); msg != "" {
		bad("LATCHKEY_ISSUER", "%s", msg)
	}
	if msg := checkDatabase(c.Database); msg != "" {
		bad("LATCHKEY_DATABASE", "%s", msg)
	}
	if msg := c.checkSecret(); msg != "" {
		bad("LATCHKEY_SECRET", "%s", msg)
	}
	if c.SecretPrevious != "" {
		if _, err := secret.Parse(c.SecretPrevious); err != nil {
			bad("LATCHKEY_SECRET_PREVIOUS", "must be base64 of 32 random bytes (the secret being rotated away from)")
		} else if c.SecretPrevious == c.Secret {
			bad("LATCHKEY_SECRET_PREVIOUS", "must differ from LATCHKEY_SECRET")
		}
	}
	if c.Dev && strings.TrimSpace(c.DataDir) == "" {
		bad("LATCHKEY_DATA_DIR", "must be set in dev mode")
	}
	if c.SMTPURL != "" {
		if msg := checkSMTP(c.SMTPURL); msg != "" {
			bad("LATCHKEY_SMTP_URL", "%s", msg)
		}
	}
	c.checkTwilio(bad)
	if !regionRE.MatchString(c.DefaultRegion) {
		bad("LATCHKEY_DEFAULT_REGION", "must be a two-letter ISO 3166 code such as US or DE (%q)", c.DefaultRegion)
	}
	c.checkCaptcha(bad)
	c.checkBrand(bad)
	for _, p := range c.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			bad("LATCHKEY_TRUSTED_PROXIES", "%q is not a CIDR or an IP address", p)
		}
	}
	c.checkPushNetworks(bad)
	c.checkPhoneLimits(bad)
	if r, err := ParseRate(c.LoginLimitIP); err != nil || r.Window > 7*24*time.Hour {
		bad("LATCHKEY_LOGIN_LIMIT_IP", "must be COUNT/WINDOW such as 30/10m, window at most a week (%q)", c.LoginLimitIP)
	}
	c.checkArgon2(bad)
	if c.PasswordMinLength < 8 || c.PasswordMinLength > 64 {
		bad("LATCHKEY_PASSWORD_MIN_LENGTH", "must be between 8 and 64 (%d)", c.PasswordMinLength)
	}
	if c.LockoutThreshold < 1 || c.LockoutThreshold > 1000 {
		bad("LATCHKEY_LOCKOUT_THRESHOLD", "must be between 1 and 1000 (%d)", c.LockoutThreshold)
	}
	if c.LockoutBase < time.Second {
		bad("LATCHKEY_LOCKOUT_BASE", "must be at least 1s (%s)", c.LockoutBase)
	}
	if c.LockoutMax < c.LockoutBase {
		bad("LATCHKEY_LOCKOUT_MAX", "must be at least LATCHKEY_LOCKOUT_BASE (%s < %s)", c.LockoutMax, c.LockoutBase)
	}
	if c.AccessTokenLifetime < 30*time.Second || c.AccessTokenLifetime > maxAccessToken {
		bad("LATCHKEY_ACCESS_TOKEN_LIFETIME", "must be between 30s and %s (%s)", maxAccessToken, c.AccessTokenLifetime)
	}
	if c.IDTokenLifetime < time.Minute || c.IDTokenLifetime > 24*time.Hour {
		bad("LATCHKEY_ID_TOKEN_LIFETIME", "must be between 1m and 24h (%s)", c.IDTokenLifetime)
	}
	if c.RefreshTokenLifetime < c.AccessTokenLifetime || c.RefreshTokenLifetime > 366*24*time.Hour {
		bad("LATCHKEY_REFRESH_TOKEN_LIFETIME", "must be between the access token lifetime and 366 days (%s)", c.RefreshTokenLifetime)
	}
	if c.SessionLifetime < 5*time.Minute || c.SessionLifetime > 90*24*time.Hour {
		bad("LATCHKEY_SESSION_LIFETIME", "must be between 5m and 90 days (%s)", c.SessionLifetime)
	}
	if c.AuditRetentionDays < 0 || c.AuditRetentionDays > maxAuditRetentionDays {
		bad("LATCHKEY_AUDIT_RETENTION_DAYS", "must be between 0 (keep every event) and %d days (%d)", maxAuditRetentionDays, c.AuditRetentionDays)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		bad("LATCHKEY_LOG_LEVEL", "must be debug, info, warn or error (%q)", c.LogLevel)
	}
	if !slices.Contains([]string{"", LogJSON, LogText}, c.LogFormat) {
		bad("LATCHKEY_LOG_FORMAT", "must be json or text (%q)", c.LogFormat)
	}
	if c.ShutdownTimeout < 0 || c.ShutdownTimeout > 10*time.Minute {
		bad("LATCHKEY_SHUTDOWN_TIMEOUT", "must be between 0 and 10m (%s)", c.ShutdownTimeout)
	}
	if !slices.Contains([]string{"on", "off"}, c.AccessLog) {
		bad("LATCHKEY_ACCESS_LOG", "must be on or off (%q)", c.AccessLog)
	}
	if !slices.Contains([]string{"off", "otlp"}, c.Tracing) {
		bad("LATCHKEY_TRACING", "must be off or otlp (%q)", c.Tracing)
	}
	if u, err := url.Parse(c.OTelEndpoint); c.OTelEndpoint != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		bad("LATCHKEY_OTEL_ENDPOINT", "must be an http or https URL (%q)", c.OTelEndpoint)
	}
	if c.KeyRefresh < time.Second || c.KeyRefresh > 5*time.Minute {
		bad("LATCHKEY_KEY_REFRESH", "must be between 1s and 5m (%s)", c.KeyRefresh)
	}
	// Every instance must have reloaded its keys, so publishes the new one,
	// before any instance signs with it; twice the interval leaves a margin.
	if c.KeyPublishLead < 2*c.KeyRefresh || c.KeyPublishLead > 7*24*time.Hour {
		bad("LATCHKEY_KEY_PUBLISH_LEAD", "must be at least twice the key cache interval (%s) and at most 168h (%s)", c.KeyRefresh, c.KeyPublishLead)
	}
	if c.ShutdownDelay < 0 || c.ShutdownDelay > 5*time.Minute {
		bad("LATCHKEY_SHUTDOWN_DELAY", "must be between 0 and 5m (%s)", c.ShutdownDelay)
	}
	return errors.Join(errs...)
}

// checkIssuer accepts an absolute https URL without path, query, fragment
// or credentials. Plain http is accepted in dev mode, and otherwise only for a
// loopback host (localhost, 127.0.0.1, ::1): traffic to those never leaves
// the machine, which is what docker-compose and local load tests need, while
// any real deployment behind a name must use TLS (Secure cookies, HSTS).
func (c Config) checkIssuer() string {
	u, err := url.Parse(c.Issuer)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Sprintf("must be an absolute URL such as https://id.example.com (%q)", c.Issuer)
	}
	switch {
	case u.User != nil:
		return "must not contain credentials"
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(c.Issuer, "#"):
		return "must not contain a query or fragment"
	case u.Path != "" || u.RawPath != "":
		// OIDC allows a path, but every endpoint and cookie (__Host- needs
		// Path=/) is laid out at the root of the issuer's host.
		return "must not have a path or trailing slash (https://id.example.com)"
	case u.Scheme == "https":
		return ""
	case u.Scheme != "http":
		return fmt.Sprintf("scheme must be https (%q)", u.Scheme)
	case c.Dev || IsLoopbackHost(u.Hostname()):
		return ""
	default:
		return "must use https outside --dev (plain http is only allowed for localhost)"
	}
}

// IsLoopbackHost reports whether host names this machine only.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func checkDatabase(raw string) string {
	switch {
	case strings.HasPrefix(raw, "sqlite://"):
		if strings.TrimPrefix(raw, "sqlite://") == "" {
			return "sqlite:// needs a path, e.g. sqlite://./latchkey-data/latchkey.db"
		}
	case strings.HasPrefix(raw, "mysql://"):
		cfg, err := db.MySQLConfig(strings.TrimPrefix(raw, "mysql://"))
		if err != nil {
			// The DSN may hold a password: do not echo it back.
			return "mysql:// DSN does not parse; expected mysql://user:pass@tcp(host:port)/db?params"
		}
		if cfg.DBName == "" {
			return "mysql:// DSN needs a database name after the slash"
		}
	default:
		return db.ErrBadURL.Error()
	}
	return ""
}

func (c Config) checkSecret() string {
	if c.Secret == "" {
		if c.Dev {
			return "" // generated into the data directory
		}
		return "is required outside --dev; generate one with: openssl rand -base64 32"
	}
	if _, err := secret.Parse(c.Secret); err != nil {
		return "must be base64 of 32 random bytes; generate one with: openssl rand -base64 32"
	}
	if c.Dev {
		return ""
	}
	if IsExampleSecret(c.Secret) {
		return "is an example value published in documentation or source; generate your own with: openssl rand -base64 32"
	}
	if weakSecret(c.Secret) {
		return "does not look random; generate one with: openssl rand -base64 32"
	}
	return ""
}

func checkSMTP(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "does not parse as a URL; expected smtp://user:pass@host:port?from=addr"
	}
	if u.Scheme != "smtp" && u.Scheme != "smtps" {
		return fmt.Sprintf("scheme must be smtp or smtps (%q)", u.Scheme)
	}
	if u.Hostname() == "" {
		return "needs a host"
	}
	if u.Query().Get("from") == "" {
		return "needs ?from=address for the sender"
	}
	return ""
}

func (c Config) checkTwilio(bad func(v, format string, args ...any)) {
	if c.TwilioAccountSID == "" && c.TwilioAuthToken == "" && c.TwilioFrom == "" {
		return
	}
	if c.TwilioAccountSID == "" {
		bad("LATCHKEY_TWILIO_ACCOUNT_SID", "is required when any Twilio setting is given")
	}
	if c.TwilioAuthToken == "" {
		bad("LATCHKEY_TWILIO_AUTH_TOKEN", "is required when any Twilio setting is given")
	}
	if c.TwilioFrom == "" {
		bad("LATCHKEY_TWILIO_FROM", "is required when any Twilio setting is given")
	}
	if msg := c.checkOutboundURL(c.TwilioURL); msg != "" {
		bad("LATCHKEY_TWILIO_URL", "%s", msg)
	}
}

// checkOutboundURL requires https for APIs that carry credentials, except to
// a loopback test double or in dev mode.
func (c Config) checkOutboundURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("must be an absolute URL (%q)", raw)
	}
	if u.Scheme == "https" || (u.Scheme == "http" && (c.Dev || IsLoopbackHost(u.Hostname()))) {
		return ""
	}
	return "must use https"
}

func (c Config) checkCaptcha(bad func(v, format string, args ...any)) {
	switch c.Captcha {
	case CaptchaBuiltin:
	case CaptchaOff:
		if !c.Dev {
			bad("LATCHKEY_CAPTCHA", "off is only allowed with --dev: the recovery start must be protected")
		}
	case CaptchaHCaptcha, CaptchaTurnstile:
		if c.CaptchaSiteKey == "" {
			bad("LATCHKEY_CAPTCHA_SITE_KEY", "is required for %s", c.Captcha)
		}
		if c.CaptchaSecret == "" {
			bad("LATCHKEY_CAPTCHA_SECRET", "is required for %s", c.Captcha)
		}
	default:
		bad("LATCHKEY_CAPTCHA", "must be builtin, hcaptcha, turnstile or off (%q)", c.Captcha)
	}
	if c.CaptchaVerifyURL != "" {
		if msg := c.checkOutboundURL(c.CaptchaVerifyURL); msg != "" {
			bad("LATCHKEY_CAPTCHA_VERIFY_URL", "%s", msg)
		}
	}
	for _, d := range c.DecoyMailDomains {
		if !mailDomain(d) {
			bad("LATCHKEY_DECOY_MAIL_DOMAINS", "%q is not a mail domain (a DNS name with a dot, not an IP address)", d)
		}
	}
}

// mailDomain reports whether d looks like a mail domain: DNS labels with
// at least one dot, not an IP address.
func mailDomain(d string) bool {
	d = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(d), "@"), ".")
	if _, err := netip.ParseAddr(d); err == nil || !strings.Contains(d, ".") || len(d) > 253 {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return false
		}
		for _, r := range l {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127) {
				return false
			}
		}
	}
	return true
}

func (c Config) checkArgon2(bad func(v, format string, args ...any)) {
	m, t := uint64(c.Argon2Memory), uint64(c.Argon2Time)
	if m < minArgon2Memory || m > maxArgon2Memory {
		bad("LATCHKEY_ARGON2_MEMORY", "must be between %d and %d KiB (%d)", minArgon2Memory, maxArgon2Memory, m)
	}
	if t < 1 || t > 100 {
		bad("LATCHKEY_ARGON2_TIME", "must be between 1 and 100 (%d)", t)
	} else if m >= minArgon2Memory && m*t < minArgon2MemoryTime {
		bad("LATCHKEY_ARGON2_TIME", "memory × time must be at least %d KiB (OWASP: 19456 KiB × 2, 7168 KiB × 5); got %d × %d", minArgon2MemoryTime, m, t)
	}
	if c.Argon2Threads < 1 {
		bad("LATCHKEY_ARGON2_THREADS", "must be at least 1")
	}
}

// ParsePrefix parses a trusted-proxy entry: a CIDR, or a single IP taken as
// its host prefix (/32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("config: %q is not a CIDR or IP", s)
	}
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

// Proxies returns the parsed trusted proxy prefixes; entries that do not
// parse are skipped (Validate reports them).
func (c Config) Proxies() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		if p, err := ParsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// maxPlaceName bounds a push network's place name (the device shows it).
const maxPlaceName = 100

func (c Config) checkPushNetworks(bad func(v, format string, args ...any)) {
	seen := map[netip.Prefix]bool{}
	for _, entry := range c.PushNetworks {
		cidr, name, ok := strings.Cut(entry, "=")
		if strings.TrimSpace(entry) == "" {
			continue // a trailing semicolon
		}
		p, err := ParsePrefix(cidr)
		switch {
		case !ok:
			bad("LATCHKEY_PUSH_NETWORKS", "%q: want CIDR=place name, e.g. 10.0.0.0/8=Head office", entry)
		case err != nil:
			bad("LATCHKEY_PUSH_NETWORKS", "%q is not a CIDR or an IP address", strings.TrimSpace(cidr))
		case strings.TrimSpace(name) == "":
			bad("LATCHKEY_PUSH_NETWORKS", "%q has no place name", entry)
		case len([]rune(strings.TrimSpace(name))) > maxPlaceName:
			bad("LATCHKEY_PUSH_NETWORKS", "the place name of %s is longer than %d characters", p, maxPlaceName)
		case seen[p]:
			bad("LATCHKEY_PUSH_NETWORKS", "%s is named twice", p)
		}
		if err == nil {
			seen[p] = true
		}
	}
}

// Networks returns LATCHKEY_PUSH_NETWORKS as CIDR → place name (the form
// push.NewNetworks takes); entries that do not parse are skipped (Validate
// reports them).
func (c Config) Networks() map[string]string {
	out := map[string]string{}
	for _, entry := range c.PushNetworks {
		cidr, name, ok := strings.Cut(entry, "=")
		p, err := ParsePrefix(cidr)
		if ok && err == nil && strings.TrimSpace(name) != "" {
			out[p.String()] = strings.TrimSpace(name)
		}
	}
	return out
}

// ValidateOnly is Validate restricted to the problems of the named
// environment variables (all problems when none are named). Admin commands
// use it so that, say, listing users needs no SMTP or CAPTCHA settings.
func (c Config) ValidateOnly(vars ...string) error {
	err := c.Validate()
	if err == nil || len(vars) == 0 {
		return err
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return err
	}
	var keep []error
	for _, e := range joined.Unwrap() {
		var p *Problem
		if errors.As(e, &p) && slices.Contains(vars, p.Var) {
			keep = append(keep, e)
		}
	}
	return errors.Join(keep...)
}

// maxAuditRetentionDays is a hundred years: beyond it the setting is a typo.
const maxAuditRetentionDays = 36500
