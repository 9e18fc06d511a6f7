package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/config"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// prod is a valid production configuration every case starts from.
func prod() config.Config {
	c := config.Defaults()
	c.Issuer = "https://id.example.com"
	c.Database = "mysql://latchkey:pw@tcp(db:3306)/latchkey"
	c.Secret = secret.Generate()
	return c
}

func TestDefaultsMatchTags(t *testing.T) {
	clearEnv(t)
	got, err := config.Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := config.Defaults(); !reflect.DeepEqual(got, want) {
		t.Fatalf("kong defaults and Defaults() differ:\n got %+v\nwant %+v", got, want)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *config.Config)
		want   []string // env vars named in the problems, exactly
	}{
		{"production-ok", func(c *config.Config) {}, nil},
		{"dev-defaults-ok", func(c *config.Config) { *c = config.Defaults(); c.Dev = true; c.Captcha = config.CaptchaOff }, nil},
		{"secret-required-outside-dev", func(c *config.Config) { c.Secret = "" }, []string{"LATCHKEY_SECRET"}},
		{"secret-not-base64-32", func(c *config.Config) { c.Secret = "hunter2" }, []string{"LATCHKEY_SECRET"}},
		{"secret-short", func(c *config.Config) { c.Secret = "c2hvcnQ=" }, []string{"LATCHKEY_SECRET"}},
		{"secret-example-value", func(c *config.Config) { c.Secret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" }, []string{"LATCHKEY_SECRET"}},
		{"secret-example-other-encoding", func(c *config.Config) { c.Secret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY" }, []string{"LATCHKEY_SECRET"}},
		{"secret-all-zero", func(c *config.Config) { c.Secret = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" }, []string{"LATCHKEY_SECRET"}},
		{"secret-repetitive", func(c *config.Config) { c.Secret = "YWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWI=" }, []string{"LATCHKEY_SECRET"}},
		{"secret-example-allowed-in-dev", func(c *config.Config) {
			c.Dev = true
			c.Secret = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
		}, nil},
		{"secret-garbage-refused-in-dev", func(c *config.Config) { c.Dev = true; c.Secret = "nope" }, []string{"LATCHKEY_SECRET"}},
		{"issuer-http-refused", func(c *config.Config) { c.Issuer = "http://id.example.com" }, []string{"LATCHKEY_ISSUER"}},
		{"issuer-http-dev", func(c *config.Config) { c.Dev = true; c.Issuer = "http://id.example.com" }, nil},
		{"issuer-http-localhost", func(c *config.Config) { c.Issuer = "http://localhost:8080" }, nil},
		{"issuer-http-loopback-ip", func(c *config.Config) { c.Issuer = "http://127.0.0.1:8080" }, nil},
		{"issuer-http-loopback-v6", func(c *config.Config) { c.Issuer = "http://[::1]:8080" }, nil},
		{"issuer-http-localhost-lookalike", func(c *config.Config) { c.Issuer = "http://localhost.evil.com" }, []string{"LATCHKEY_ISSUER"}},
		{"issuer-path", func(c *config.Config) { c.Issuer = "https://example.com/id" }, []string{"LATCHKEY_ISSUER"}},
		{"issuer-trailing-slash", func(c *config.Config) { c.Issuer = "https://id.example.com/" }, []string{"LATCHKEY_ISSUER"}},
		{"issuer-query", func(c *config.Config) { c.Issuer = "https://id.example.com?x=1" }, []string{"LATCHKEY_ISSUER"}},
		{"issuer-fragment", func(c *config.Config) { c.Issuer = "https://id.example.com#x" }, []string{"LATCHKEY_ISSUER"}},
		{"issuer-userinfo", func(c *config.Config) { c.Issuer = "https://u:p@id.example.com" }, []string{"LATCHKEY_ISSUER"}},
		{"issuer-relative", func(c *config.Config) { c.Issuer = "id.example.com" }, []string{"LATCHKEY_ISSUER"}},
		{"issuer-ftp", func(c *config.Config) { c.Issuer = "ftp://id.example.com" }, []string{"LATCHKEY_ISSUER"}},
		{"listen-bad", func(c *config.Config) { c.Listen = "8080" }, []string{"LATCHKEY_LISTEN"}},
		{"shutdown-delay-zero", func(c *config.Config) { c.ShutdownDelay = 0 }, nil},
		{"shutdown-delay-negative", func(c *config.Config) { c.ShutdownDelay = -time.Second }, []string{"LATCHKEY_SHUTDOWN_DELAY"}},
		{"shutdown-delay-too-long", func(c *config.Config) { c.ShutdownDelay = time.Hour }, []string{"LATCHKEY_SHUTDOWN_DELAY"}},
		{"key-publish-lead-within-two-caches", func(c *config.Config) { c.KeyRefresh = time.Minute; c.KeyPublishLead = 90 * time.Second }, []string{"LATCHKEY_KEY_PUBLISH_LEAD"}},
		{"key-refresh-zero", func(c *config.Config) { c.KeyRefresh = 0 }, []string{"LATCHKEY_KEY_REFRESH"}},
		{"metrics-listen-off", func(c *config.Config) { c.MetricsListen = config.MetricsOff }, nil},
		{"metrics-listen-every-interface", func(c *config.Config) { c.MetricsListen = ":9464" }, nil},
		{"metrics-listen-bad", func(c *config.Config) { c.MetricsListen = "9464" }, []string{"LATCHKEY_METRICS_LISTEN"}},
		{"metrics-listen-is-the-public-listener", func(c *config.Config) { c.Listen, c.MetricsListen = ":8080", ":8080" }, []string{"LATCHKEY_METRICS_LISTEN"}},
		{"metrics-listen-is-the-default-public-listener", func(c *config.Config) { c.MetricsListen = ":8080" }, []string{"LATCHKEY_METRICS_LISTEN"}},
		{"database-unknown-scheme", func(c *config.Config) { c.Database = "postgres://x" }, []string{"LATCHKEY_DATABASE"}},
		{"database-sqlite-empty", func(c *config.Config) { c.Database = "sqlite://" }, []string{"LATCHKEY_DATABASE"}},
		{"database-mysql-no-db", func(c *config.Config) { c.Database = "mysql://root@tcp(127.0.0.1:3306)/" }, []string{"LATCHKEY_DATABASE"}},
		{"database-mysql-garbage", func(c *config.Config) { c.Database = "mysql://root:pw@tcp(127.0.0.1:3306" }, []string{"LATCHKEY_DATABASE"}},
		{"smtp-ok", func(c *config.Config) { c.SMTPURL = "smtps://u:p@mail.example.com:465?from=id@example.com" }, nil},
		{"smtp-no-from", func(c *config.Config) { c.SMTPURL = "smtp://mail.example.com:25" }, []string{"LATCHKEY_SMTP_URL"}},
		{"smtp-bad-scheme", func(c *config.Config) { c.SMTPURL = "http://mail.example.com?from=a@b" }, []string{"LATCHKEY_SMTP_URL"}},
		{"twilio-partial", func(c *config.Config) { c.TwilioAccountSID = "AC1" }, []string{"LATCHKEY_TWILIO_AUTH_TOKEN", "LATCHKEY_TWILIO_FROM"}},
		{"twilio-http", func(c *config.Config) {
			c.TwilioAccountSID, c.TwilioAuthToken, c.TwilioFrom, c.TwilioURL = "AC1", "t", "+15550100", "http://twilio.example.com"
		}, []string{"LATCHKEY_TWILIO_URL"}},
		{"region-bad", func(c *config.Config) { c.DefaultRegion = "usa" }, []string{"LATCHKEY_DEFAULT_REGION"}},
		{"captcha-off-refused", func(c *config.Config) { c.Captcha = config.CaptchaOff }, []string{"LATCHKEY_CAPTCHA"}},
		{"captcha-unknown", func(c *config.Config) { c.Captcha = "recaptcha" }, []string{"LATCHKEY_CAPTCHA"}},
		{"captcha-hcaptcha-keys", func(c *config.Config) { c.Captcha = config.CaptchaHCaptcha },
			[]string{"LATCHKEY_CAPTCHA_SITE_KEY", "LATCHKEY_CAPTCHA_SECRET"}},
		{"captcha-turnstile-ok", func(c *config.Config) {
			c.Captcha, c.CaptchaSiteKey, c.CaptchaSecret = config.CaptchaTurnstile, "site", "sec"
		}, nil},
		{"captcha-verify-http", func(c *config.Config) { c.CaptchaVerifyURL = "http://verify.example.com" }, []string{"LATCHKEY_CAPTCHA_VERIFY_URL"}},
		{"decoy-domains-ok", func(c *config.Config) { c.DecoyMailDomains = []string{"corp.example", "mail.corp.example"} }, nil},
		{"decoy-domains-ip", func(c *config.Config) { c.DecoyMailDomains = []string{"corp.example", "10.0.0.1"} }, []string{"LATCHKEY_DECOY_MAIL_DOMAINS"}},
		{"decoy-domains-no-dot", func(c *config.Config) { c.DecoyMailDomains = []string{"localhost"} }, []string{"LATCHKEY_DECOY_MAIL_DOMAINS"}},
		{"proxies-ok", func(c *config.Config) { c.TrustedProxies = []string{"10.0.0.0/8", "192.168.1.1", "fd00::/8"} }, nil},
		{"proxies-bad", func(c *config.Config) { c.TrustedProxies = []string{"10.0.0.0/8", "not-an-ip"} }, []string{"LATCHKEY_TRUSTED_PROXIES"}},
		{"push-networks-ok", func(c *config.Config) {
			c.PushNetworks = []string{"10.0.0.0/8=Head office, Berlin", "192.168.7.1 = Lab", "fd00::/8=VPN", ""}
		}, nil},
		{"push-networks-no-name", func(c *config.Config) { c.PushNetworks = []string{"10.0.0.0/8="} }, []string{"LATCHKEY_PUSH_NETWORKS"}},
		{"push-networks-no-equals", func(c *config.Config) { c.PushNetworks = []string{"10.0.0.0/8"} }, []string{"LATCHKEY_PUSH_NETWORKS"}},
		{"push-networks-bad-cidr", func(c *config.Config) { c.PushNetworks = []string{"10.0.0.0/33=Office"} }, []string{"LATCHKEY_PUSH_NETWORKS"}},
		{"push-networks-twice", func(c *config.Config) { c.PushNetworks = []string{"10.0.0.0/8=A", "10.1.2.3/8=B"} }, []string{"LATCHKEY_PUSH_NETWORKS"}},
		{"push-networks-long-name", func(c *config.Config) { c.PushNetworks = []string{"10.0.0.0/8=" + strings.Repeat("x", 101)} },
			[]string{"LATCHKEY_PUSH_NETWORKS"}},
		{"phone-limits-stricter-ok", func(c *config.Config) {
			c.PhoneLimitNumber, c.PhoneLimitNumberDay, c.PhoneLimitUser, c.PhoneLimitIP = "2/15m", "5/48h", "3/2h", "1/1h"
			c.PhoneLimitDialCodeDay, c.PhoneLimitGlobalHour = 50, 200
		}, nil},
		{"phone-limit-looser-count", func(c *config.Config) { c.PhoneLimitNumber = "4/10m" }, []string{"LATCHKEY_PHONE_LIMIT_NUMBER"}},
		{"phone-limit-shorter-window", func(c *config.Config) { c.PhoneLimitUser = "5/30m" }, []string{"LATCHKEY_PHONE_LIMIT_USER"}},
		{"phone-limits-daily-looser", func(c *config.Config) { c.PhoneLimitUserDay, c.PhoneLimitIPDay = "16/24h", "50/12h" },
			[]string{"LATCHKEY_PHONE_LIMIT_USER_DAY", "LATCHKEY_PHONE_LIMIT_IP_DAY"}},
		{"login-limit-not-a-rate", func(c *config.Config) { c.LoginLimitIP = "30 per 10 minutes" }, []string{"LATCHKEY_LOGIN_LIMIT_IP"}},
		{"login-limit-ok", func(c *config.Config) { c.LoginLimitIP = "100/1h" }, nil},
		{"phone-limits-daily-stricter-ok", func(c *config.Config) { c.PhoneLimitUserDay, c.PhoneLimitIPDay = "8/24h", "20/48h" }, nil},
		{"phone-limit-not-a-rate", func(c *config.Config) { c.PhoneLimitIP = "ten per hour" }, []string{"LATCHKEY_PHONE_LIMIT_IP"}},
		{"phone-limit-zero", func(c *config.Config) { c.PhoneLimitNumberDay = "0/24h" }, []string{"LATCHKEY_PHONE_LIMIT_NUMBER_DAY"}},
		{"phone-limit-window-too-long", func(c *config.Config) { c.PhoneLimitUser = "1/200h" }, []string{"LATCHKEY_PHONE_LIMIT_USER"}},
		{"phone-budgets-off", func(c *config.Config) { c.PhoneLimitDialCodeDay, c.PhoneLimitGlobalHour = 0, -1 },
			[]string{"LATCHKEY_PHONE_LIMIT_DIAL_CODE_DAY", "LATCHKEY_PHONE_LIMIT_GLOBAL_HOUR"}},
		{"argon2-owasp-alt-ok", func(c *config.Config) { c.Argon2Memory, c.Argon2Time = 7168, 5 }, nil},
		{"argon2-too-weak", func(c *config.Config) { c.Argon2Memory, c.Argon2Time = 19456, 1 }, []string{"LATCHKEY_ARGON2_TIME"}},
		{"argon2-memory-tiny", func(c *config.Config) { c.Argon2Memory = 64 }, []string{"LATCHKEY_ARGON2_MEMORY"}},
		{"argon2-threads-zero", func(c *config.Config) { c.Argon2Threads = 0 }, []string{"LATCHKEY_ARGON2_THREADS"}},
		{"password-min-7", func(c *config.Config) { c.PasswordMinLength = 7 }, []string{"LATCHKEY_PASSWORD_MIN_LENGTH"}},
		{"lockout-threshold-zero", func(c *config.Config) { c.LockoutThreshold = 0 }, []string{"LATCHKEY_LOCKOUT_THRESHOLD"}},
		{"lockout-max-below-base", func(c *config.Config) { c.LockoutMax = 10 * time.Second }, []string{"LATCHKEY_LOCKOUT_MAX"}},
		{"access-token-too-long", func(c *config.Config) { c.AccessTokenLifetime = time.Hour }, []string{"LATCHKEY_ACCESS_TOKEN_LIFETIME"}},
		{"refresh-shorter-than-access", func(c *config.Config) { c.RefreshTokenLifetime = time.Minute }, []string{"LATCHKEY_REFRESH_TOKEN_LIFETIME"}},
		{"session-too-short", func(c *config.Config) { c.SessionLifetime = time.Minute }, []string{"LATCHKEY_SESSION_LIFETIME"}},
		{"audit-retention-negative", func(c *config.Config) { c.AuditRetentionDays = -1 }, []string{"LATCHKEY_AUDIT_RETENTION_DAYS"}},
		{"audit-retention-typo", func(c *config.Config) { c.AuditRetentionDays = 3650000 }, []string{"LATCHKEY_AUDIT_RETENTION_DAYS"}},
		{"log-level-bad", func(c *config.Config) { c.LogLevel = "loud" }, []string{"LATCHKEY_LOG_LEVEL"}},
		{"log-format-bad", func(c *config.Config) { c.LogFormat = "xml" }, []string{"LATCHKEY_LOG_FORMAT"}},
		{"every-problem-at-once", func(c *config.Config) {
			c.Secret, c.Issuer, c.Captcha, c.LogLevel = "", "http://id.example.com", config.CaptchaOff, "x"
		}, []string{"LATCHKEY_ISSUER", "LATCHKEY_SECRET", "LATCHKEY_CAPTCHA", "LATCHKEY_LOG_LEVEL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := prod()
			tt.mutate(&c)
			before := deepCopy(c)
			err := c.Validate()
			if !reflect.DeepEqual(before, c) {
				t.Fatal("Validate changed the config")
			}
			got := problemVars(t, err)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("problems = %v, want %v (err: %v)", got, tt.want, err)
			}
			if err != nil && !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
		})
	}
}

func TestValidateNeverEchoesSecrets(t *testing.T) {
	c := prod()
	c.Secret = "s3cr3t-value-not-base64!"
	c.Database = "mysql://root:hunter2hunter2@tcp(127.0.0.1:3306" // broken DSN with a password
	err := c.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, s := range []string{"s3cr3t-value", "hunter2"} {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error message leaks %q: %v", s, err)
		}
	}
}

func TestRedacted(t *testing.T) {
	c := prod()
	c.SMTPURL = "smtp://mailer:mailpw@mail.example.com:25?from=a@b"
	c.CaptchaSecret, c.TwilioAuthToken = "capsec", "twtok"
	r := fmt_(c.Redacted())
	for _, s := range []string{c.Secret, "mailpw", "capsec", "twtok", ":pw@"} {
		if strings.Contains(r, s) {
			t.Fatalf("Redacted leaks %q: %s", s, r)
		}
	}
	if !strings.Contains(r, "mail.example.com") {
		t.Fatalf("Redacted lost the host: %s", r)
	}
}

func problemVars(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("not a joined error: %T %v", err, err)
	}
	var vars []string
	for _, e := range joined.Unwrap() {
		var p *config.Problem
		if !errors.As(e, &p) {
			t.Fatalf("not a *Problem: %T %v", e, e)
		}
		vars = append(vars, p.Var)
	}
	return vars
}

func deepCopy(c config.Config) config.Config {
	c.TrustedProxies = append([]string(nil), c.TrustedProxies...)
	c.PushNetworks = append([]string(nil), c.PushNetworks...)
	return c
}

func fmt_(c config.Config) string {
	return strings.Join([]string{c.Secret, c.Database, c.SMTPURL, c.CaptchaSecret, c.TwilioAuthToken}, " ")
}

// clearEnv unsets every LATCHKEY_ variable for the test.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "LATCHKEY_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "latchkey.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// LATCHKEY_PUSH_NETWORKS: each bad entry is named, and Networks gives the
// parsed pairs push.NewNetworks takes.
func TestPushNetworks(t *testing.T) {
	c := prod()
	c.PushNetworks = []string{"10.0.0.0/8=Head office", "oops", "192.168.7.1=Lab", "300.1.1.1/8=X"}
	err := c.Validate()
	for _, want := range []string{`"oops": want CIDR=place name`, `"300.1.1.1/8" is not a CIDR`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to mention %s", err, want)
		}
	}
	want := map[string]string{"10.0.0.0/8": "Head office", "192.168.7.1/32": "Lab"}
	if got := c.Networks(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Networks = %v, want %v", got, want)
	}
}

func TestPhoneLimits(t *testing.T) {
	c := prod()
	c.PhoneLimitNumber, c.PhoneLimitIP, c.PhoneLimitGlobalHour = " 2 / 15m ", "bad", 300
	got := c.Phone()
	want := config.PhoneLimits{Number: config.Rate{N: 2, Window: 15 * time.Minute}, NumberDay: config.Rate{N: 10, Window: 24 * time.Hour},
		User: config.Rate{N: 5, Window: time.Hour}, UserDay: config.Rate{N: 15, Window: 24 * time.Hour},
		IPDay: config.Rate{N: 50, Window: 24 * time.Hour}, DialCodeDay: 500, GlobalHour: 300}
	if got != want {
		t.Fatalf("Phone() = %+v, want %+v", got, want)
	}
	for r, want := range map[config.Rate]string{{3, 10 * time.Minute}: "3/10m", {10, 24 * time.Hour}: "10/24h", {1, 90 * time.Second}: "1/1m30s"} {
		if r.String() != want {
			t.Errorf("%v prints as %q, want %q", r, r.String(), want)
		}
	}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), `LATCHKEY_PHONE_LIMIT_IP: must be COUNT/WINDOW such as 10/1h ("bad")`) {
		t.Fatalf("Validate = %v", err)
	}
}

// TestEffectiveShutdownDelay: nothing balances a dev instance, so Ctrl-C
// stops it at once; everywhere else the configured delay holds.
func TestEffectiveShutdownDelay(t *testing.T) {
	tests := []struct {
		name  string
		dev   bool
		delay time.Duration
		want  time.Duration
	}{
		{"default", false, config.Defaults().ShutdownDelay, 5 * time.Second},
		{"configured", false, 12 * time.Second, 12 * time.Second},
		{"off", false, 0, 0},
		{"dev-mode-stops-at-once", true, 12 * time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Defaults()
			c.Dev, c.ShutdownDelay = tt.dev, tt.delay
			if got := c.EffectiveShutdownDelay(); got != tt.want {
				t.Errorf("EffectiveShutdownDelay() = %s, want %s", got, tt.want)
			}
		})
	}
}
