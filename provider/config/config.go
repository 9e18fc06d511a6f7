package config

import (
	"time"
)

// Log formats.
const (
	LogJSON = "json"
	LogText = "text"
)

// CAPTCHA kinds (LATCHKEY_CAPTCHA).
const (
	CaptchaBuiltin   = "builtin"
	CaptchaHCaptcha  = "hcaptcha"
	CaptchaTurnstile = "turnstile"
	CaptchaOff       = "off"
)

// Config is the whole runtime configuration. The struct tags bind each field
// to its flag and environment variable through github.com/alecthomas/kong;
// Defaults returns the same values without going through kong.
//
// Secrets (Secret, CaptchaSecret, TwilioAuthToken, the SMTP and database
// passwords) are never printed: use Redacted for logs.
type Config struct {
	Dev bool `name:"dev" env:"LATCHKEY_DEV" help:"Development mode: SQLite under --data-dir, a generated secret, a demo user and app, captcha off allowed, http issuer allowed."`

	Listen string `name:"listen" env:"LATCHKEY_LISTEN" help:"Address to listen on (default :8080; 127.0.0.1:8080 in --dev, whose outbox shows every code)."`
	// MetricsListen is apart from Listen: request and sign-in counts help
	// an attacker time a guessing run, so they are for the operator only.
	MetricsListen string `name:"metrics-listen" env:"LATCHKEY_METRICS_LISTEN" default:"127.0.0.1:9464" help:"Address of the Prometheus /metrics listener, apart from the public one; off disables it."`
	Issuer        string `name:"issuer" env:"LATCHKEY_ISSUER" default:"http://localhost:8080" help:"Public issuer URL; every link in mail and pages is built from it."`
	Database      string `name:"database" env:"LATCHKEY_DATABASE" default:"sqlite://./latchkey-data/latchkey.db" help:"sqlite://PATH or mysql://user:pass@tcp(host:port)/db?params."`
	Secret        string `name:"secret" env:"LATCHKEY_SECRET" help:"Base64 of 32 random bytes; encrypts secrets at rest and keys code hashes. Required outside --dev." placeholder:"BASE64"`
	// SecretPrevious is accepted beside Secret while `latchkey secret rotate`
	// re-seals what is stored; unset it once the rotation has finished.
	SecretPrevious string `name:"secret-previous" env:"LATCHKEY_SECRET_PREVIOUS" help:"The secret being rotated away from: still opens and verifies, never seals. Unset once 'latchkey secret rotate' has finished and short-lived values have aged out." placeholder:"BASE64"`
	DataDir        string `name:"data-dir" env:"LATCHKEY_DATA_DIR" default:"./latchkey-data" help:"Directory for dev-mode state (the generated secret)."`

	SMTPURL string `name:"smtp-url" env:"LATCHKEY_SMTP_URL" help:"smtp://user:pass@host:port?from=addr (smtps:// for implicit TLS); unset: email method unavailable."`

	TwilioURL        string `name:"twilio-url" env:"LATCHKEY_TWILIO_URL" default:"https://api.twilio.com" help:"Twilio-compatible REST API base URL."`
	TwilioAccountSID string `name:"twilio-account-sid" env:"LATCHKEY_TWILIO_ACCOUNT_SID" help:"Twilio account SID; unset: phone methods unavailable."`
	TwilioAuthToken  string `name:"twilio-auth-token" env:"LATCHKEY_TWILIO_AUTH_TOKEN" help:"Twilio auth token."`
	TwilioFrom       string `name:"twilio-from" env:"LATCHKEY_TWILIO_FROM" help:"Sender number (E.164) or messaging service SID."`
	DefaultRegion    string `name:"default-region" env:"LATCHKEY_DEFAULT_REGION" default:"US" help:"ISO 3166 region for phone numbers without a country code; default SMS/voice allowlist."`

	// Toll-fraud limits of the phone methods (checklist 52): stricter than the defaults only.
	PhoneLimitNumber      string `name:"phone-limit-number" env:"LATCHKEY_PHONE_LIMIT_NUMBER" default:"3/10m" help:"Phone codes sent to one number, COUNT/WINDOW (at most 3/10m)."`
	PhoneLimitNumberDay   string `name:"phone-limit-number-day" env:"LATCHKEY_PHONE_LIMIT_NUMBER_DAY" default:"10/24h" help:"Phone codes sent to one number over a longer window (at most 10/24h)."`
	PhoneLimitUser        string `name:"phone-limit-user" env:"LATCHKEY_PHONE_LIMIT_USER" default:"5/1h" help:"Phone codes sent for one user (at most 5/1h)."`
	PhoneLimitIP          string `name:"phone-limit-ip" env:"LATCHKEY_PHONE_LIMIT_IP" default:"10/1h" help:"Phone codes requested from one client IP (at most 10/1h)."`
	PhoneLimitUserDay     string `name:"phone-limit-user-day" env:"LATCHKEY_PHONE_LIMIT_USER_DAY" default:"15/24h" help:"Phone codes sent for one user over a longer window (at most 15/24h)."`
	PhoneLimitIPDay       string `name:"phone-limit-ip-day" env:"LATCHKEY_PHONE_LIMIT_IP_DAY" default:"50/24h" help:"Phone codes requested from one client IP over a longer window (at most 50/24h)."`
	PhoneLimitDialCodeDay int    `name:"phone-limit-dial-code-day" env:"LATCHKEY_PHONE_LIMIT_DIAL_CODE_DAY" default:"500" help:"Phone codes sent to one country calling code per day."`
	PhoneLimitGlobalHour  int    `name:"phone-limit-global-hour" env:"LATCHKEY_PHONE_LIMIT_GLOBAL_HOUR" default:"1000" help:"Phone codes sent per hour in all; beyond it a circuit breaker refuses phone codes for an hour and raises an alert."`
	LoginLimitIP          string `name:"login-limit-ip" env:"LATCHKEY_LOGIN_LIMIT_IP" default:"30/10m" help:"Failed sign-ins from one client IP, COUNT/WINDOW; beyond it the sign-in page refuses that address for the rest of the window."`

	Captcha          string `name:"captcha" env:"LATCHKEY_CAPTCHA" default:"builtin" help:"builtin, hcaptcha, turnstile, or off (dev only)."`
	CaptchaSiteKey   string `name:"captcha-site-key" env:"LATCHKEY_CAPTCHA_SITE_KEY" help:"Site key for hcaptcha or turnstile."`
	CaptchaSecret    string `name:"captcha-secret" env:"LATCHKEY_CAPTCHA_SECRET" help:"Secret key for hcaptcha or turnstile."`
	CaptchaVerifyURL string `name:"captcha-verify-url" env:"LATCHKEY_CAPTCHA_VERIFY_URL" help:"siteverify URL (the provider's official one by default)."`

	DecoyMailDomains []string `name:"decoy-mail-domains" env:"LATCHKEY_DECOY_MAIL_DOMAINS" help:"Comma-separated mail domains that recovery decoys (unknown names) show addresses at; by default the domains of the addresses users registered." placeholder:"DOMAIN,..."`

	PushNetworks []string `name:"push-networks" env:"LATCHKEY_PUSH_NETWORKS" sep:";" help:"Place names shown on the authenticator for known networks: CIDR=name pairs separated by semicolons (10.0.0.0/8=Head office;192.168.7.0/24=Berlin lab)." placeholder:"CIDR=NAME;..."`

	TrustedProxies []string `name:"trusted-proxies" env:"LATCHKEY_TRUSTED_PROXIES" help:"Comma-separated CIDRs (or IPs) of reverse proxies whose X-Forwarded-For is honoured." placeholder:"CIDR,..."`

	Argon2Memory  uint32 `name:"argon2-memory" env:"LATCHKEY_ARGON2_MEMORY" default:"19456" help:"Argon2id memory in KiB."`
	Argon2Time    uint32 `name:"argon2-time" env:"LATCHKEY_ARGON2_TIME" default:"2" help:"Argon2id iterations."`
	Argon2Threads uint8  `name:"argon2-threads" env:"LATCHKEY_ARGON2_THREADS" default:"1" help:"Argon2id parallelism."`

	PasswordMinLength int `name:"password-min-length" env:"LATCHKEY_PASSWORD_MIN_LENGTH" default:"8" help:"Minimum password length in code points (at least 8)."`

	LockoutThreshold int           `name:"lockout-threshold" env:"LATCHKEY_LOCKOUT_THRESHOLD" default:"10" help:"Bad passwords before the account is locked."`
	LockoutBase      time.Duration `name:"lockout-base" env:"LATCHKEY_LOCKOUT_BASE" default:"60s" help:"First lockout duration; doubles with each further lockout."`
	LockoutMax       time.Duration `name:"lockout-max" env:"LATCHKEY_LOCKOUT_MAX" default:"1h" help:"Longest lockout."`

	AccessTokenLifetime  time.Duration `name:"access-token-lifetime" env:"LATCHKEY_ACCESS_TOKEN_LIFETIME" default:"10m" help:"Access token lifetime (at most 10m)."`
	IDTokenLifetime      time.Duration `name:"id-token-lifetime" env:"LATCHKEY_ID_TOKEN_LIFETIME" default:"1h" help:"ID token lifetime."`
	RefreshTokenLifetime time.Duration `name:"refresh-token-lifetime" env:"LATCHKEY_REFRESH_TOKEN_LIFETIME" default:"720h" help:"Refresh token lifetime (of one token family)."`
	SessionLifetime      time.Duration `name:"session-lifetime" env:"LATCHKEY_SESSION_LIFETIME" default:"12h" help:"Browser single sign-on session lifetime."`

	// AuditRetentionDays bounds how long audit events are kept; the
	// cleanup loop deletes older ones in batches. 0 keeps them forever.
	AuditRetentionDays int `name:"audit-retention-days" env:"LATCHKEY_AUDIT_RETENTION_DAYS" default:"0" help:"Delete audit events older than this many days (0 keeps every event)."`

	LogLevel        string        `name:"log-level" env:"LATCHKEY_LOG_LEVEL" default:"info" help:"debug, info, warn or error."`
	LogFormat       string        `name:"log-format" env:"LATCHKEY_LOG_FORMAT" help:"json or text (default: text in --dev, json otherwise)."`
	ShutdownTimeout time.Duration `name:"shutdown-timeout" env:"LATCHKEY_SHUTDOWN_TIMEOUT" default:"20s" help:"Time given to in-flight requests on SIGTERM."`

	// ShutdownDelay is how long an instance keeps serving after SIGTERM
	// while /readyz already answers 503: load balancers and Kubernetes
	// endpoints take a few probe periods to stop sending to it, and a
	// listener closed at once refuses what they still send.
	ShutdownDelay time.Duration `name:"shutdown-delay" env:"LATCHKEY_SHUTDOWN_DELAY" default:"5s" help:"On SIGTERM, time /readyz answers 503 while requests are still served, before the listener closes (0 in --dev)."`

	AccessLog string `name:"access-log" env:"LATCHKEY_ACCESS_LOG" default:"on" enum:"on,off" help:"One structured log line per request (on or off)."`

	// Tracing sends OpenTelemetry spans of every request to an OTLP/HTTP
	// collector; off unless set. otlp reads the standard
	// OTEL_EXPORTER_OTLP_* variables for the endpoint and headers.
	Tracing      string `name:"tracing" env:"LATCHKEY_TRACING" default:"off" enum:"off,otlp" help:"off, or otlp to export OpenTelemetry traces over OTLP/HTTP (OTEL_EXPORTER_OTLP_* settings apply)."`
	OTelEndpoint string `name:"otel-endpoint" env:"LATCHKEY_OTEL_ENDPOINT" help:"OTLP/HTTP base URL of the trace collector (e.g. http://otel-collector:4318); setting it turns tracing on." placeholder:"URL"`

	// KeyPublishLead is how long `keys rotate` publishes a new signing key
	// before any instance signs with it: longer than the key cache of
	// every instance plus any HTTP cache holding /keys (max-age 300 s), so
	// no relying party sees a token before the key that verifies it.
	KeyPublishLead time.Duration `name:"key-publish-lead" env:"LATCHKEY_KEY_PUBLISH_LEAD" default:"15m" help:"Time a rotated-in signing key is published in JWKS before it signs (at least twice the key cache interval; keep it above 5m30s, the JWKS max-age plus the cache)."`
	// KeyRefresh is how often an instance reloads the signing keys. Hidden:
	// tests of several instances shorten it; operators have no reason to.
	KeyRefresh time.Duration `name:"key-refresh" env:"LATCHKEY_KEY_REFRESH" default:"30s" hidden:"" help:"Signing key cache interval."`

	// Brand: what every page shows instead of Latchkey's own name and look.
	BrandName        string `name:"brand-name" env:"LATCHKEY_BRAND_NAME" help:"Product or organisation name on every page (default Latchkey)."`
	BrandLogoURL     string `name:"brand-logo-url" env:"LATCHKEY_BRAND_LOGO_URL" help:"Logo above every page: a base64 data:image URL, or a URL on the issuer's origin (the page's CSP allows no other image host)." placeholder:"URL"`
	BrandColor       string `name:"brand-color" env:"LATCHKEY_BRAND_COLOR" help:"Colour of buttons, links and focus rings in the light scheme, #rrggbb; must contrast 4.5:1 with white." placeholder:"#RRGGBB"`
	BrandAccent      string `name:"brand-accent" env:"LATCHKEY_BRAND_ACCENT" help:"The same colour for the dark scheme, #rrggbb; must contrast 4.5:1 with the dark card." placeholder:"#RRGGBB"`
	BrandSupportURL  string `name:"brand-support-url" env:"LATCHKEY_BRAND_SUPPORT_URL" help:"Helpdesk page linked at the foot of every page (https)." placeholder:"URL"`
	BrandSupportMail string `name:"brand-support-mail" env:"LATCHKEY_BRAND_SUPPORT_MAIL" help:"Helpdesk address linked at the foot of every page when no support URL is set." placeholder:"ADDRESS"`

	PprofListen string `name:"pprof-listen" env:"LATCHKEY_PPROF_LISTEN" help:"Address of a separate listener serving Go's profiler at /debug/pprof/ (never the public listener); unset: off, or 127.0.0.1:6060 in --dev; off: off in --dev too." placeholder:"HOST:PORT"`
}

// TracingOn says whether OpenTelemetry traces are exported.
func (c Config) TracingOn() bool { return c.Tracing == "otlp" || c.OTelEndpoint != "" }

// PprofOff turns the profiler off, also in dev mode.
const PprofOff = "off"

// DevPprofListen is where dev mode serves the profiler unless told otherwise:
// loopback only, on Go's customary port.
const DevPprofListen = "127.0.0.1:6060"

// EffectivePprofListen is the profiler's address, "" when it is off.
func (c Config) EffectivePprofListen() string {
	switch {
	case c.PprofListen == PprofOff:
		return ""
	case c.PprofListen != "":
		return c.PprofListen
	case c.Dev:
		return DevPprofListen
	}
	return ""
}

// Defaults returns the configuration with nothing set: the values of the
// default tags above, kept in sync by a test.
func Defaults() Config {
	return Config{
		MetricsListen:       DefaultMetricsListen,
		Issuer:              "http://localhost:8080",
		Database:            "sqlite://./latchkey-data/latchkey.db",
		DataDir:             "./latchkey-data",
		TwilioURL:           "https://api.twilio.com",
		DefaultRegion:       "US",
		PhoneLimitNumber:    "3/10m",
		PhoneLimitNumberDay: "10/24h",
		PhoneLimitUser:      "5/1h",
		PhoneLimitIP:        "10/1h",
		PhoneLimitUserDay:   "15/24h",
		PhoneLimitIPDay:     "50/24h",

		PhoneLimitDialCodeDay: 500,
		PhoneLimitGlobalHour:  1000,
		LoginLimitIP:          "30/10m",
		Captcha:               CaptchaBuiltin,
		Argon2Memory:          19456,
		Argon2Time:            2,
		Argon2Threads:         1,
		PasswordMinLength:     8,
		LockoutThreshold:      10,
		LockoutBase:           60 * time.Second,
		LockoutMax:            time.Hour,
		AccessTokenLifetime:   10 * time.Minute,
		IDTokenLifetime:       time.Hour,
		RefreshTokenLifetime:  720 * time.Hour,
		SessionLifetime:       12 * time.Hour,
		LogLevel:              "info",
		ShutdownTimeout:       20 * time.Second,
		ShutdownDelay:         5 * time.Second,
		AccessLog:             "on",
		Tracing:               "off",
		KeyPublishLead:        15 * time.Minute,
		KeyRefresh:            30 * time.Second,
	}
}

// Listen addresses used when LATCHKEY_LISTEN is not set, and the default of
// LATCHKEY_METRICS_LISTEN. Dev mode stays on loopback: its outbox page shows
// every code it sends, and its demo user's password is printed at start.
const (
	DefaultListen        = ":8080"
	DefaultDevListen     = "127.0.0.1:8080"
	DefaultMetricsListen = "127.0.0.1:9464"
	// MetricsOff as LATCHKEY_METRICS_LISTEN serves no metrics at all.
	MetricsOff = "off"
)

// EffectiveListen is Listen, or when unset the loopback address in dev mode
// and every interface otherwise.
func (c Config) EffectiveListen() string {
	switch {
	case c.Listen != "":
		return c.Listen
	case c.Dev:
		return DefaultDevListen
	}
	return DefaultListen
}

// EffectiveShutdownDelay is ShutdownDelay, or none in dev mode: nothing
// balances a dev instance, and Ctrl-C should stop it at once.
func (c Config) EffectiveShutdownDelay() time.Duration {
	if c.Dev {
		return 0
	}
	return c.ShutdownDelay
}

// EffectiveLogFormat is LogFormat, or text in dev mode and JSON otherwise.
func (c Config) EffectiveLogFormat() string {
	if c.LogFormat != "" {
		return c.LogFormat
	}
	if c.Dev {
		return LogText
	}
	return LogJSON
}
