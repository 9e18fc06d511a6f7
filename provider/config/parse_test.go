package config_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/provider/config"
)

func TestParseSources(t *testing.T) {
	file := `
listen: ":9000"
metrics-listen: "10.0.0.5:9464"
issuer: https://file.example.com
LATCHKEY_SMTP_URL: smtp://mail:25?from=a@b
lockout_threshold: 5
lockout-base: 2m
trusted-proxies: [10.0.0.0/8, 192.168.0.0/16]
push-networks: ["10.0.0.0/8=Head office, Berlin", "192.168.7.0/24=Lab"]
dev: true
`
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(t *testing.T, c config.Config)
	}{
		{"env-only", map[string]string{"LATCHKEY_LISTEN": ":7000", "LATCHKEY_TRUSTED_PROXIES": "10.1.0.0/16,10.2.0.0/16"}, nil,
			func(t *testing.T, c config.Config) {
				eq(t, c.Listen, ":7000")
				eq(t, c.TrustedProxies, []string{"10.1.0.0/16", "10.2.0.0/16"})
			}},
		{"push-networks-env", map[string]string{"LATCHKEY_PUSH_NETWORKS": "10.0.0.0/8=Head office, Berlin;192.168.7.0/24=Lab"}, nil,
			func(t *testing.T, c config.Config) {
				eq(t, c.PushNetworks, []string{"10.0.0.0/8=Head office, Berlin", "192.168.7.0/24=Lab"})
			}},
		{"metrics-listen-env", map[string]string{"LATCHKEY_METRICS_LISTEN": "127.0.0.1:9000"}, nil,
			func(t *testing.T, c config.Config) { eq(t, c.MetricsListen, "127.0.0.1:9000") }},
		{"metrics-listen-flag", nil, []string{"--metrics-listen", "off"},
			func(t *testing.T, c config.Config) { eq(t, c.MetricsListen, "off") }},
		{"flag-beats-env", map[string]string{"LATCHKEY_LISTEN": ":7000"}, []string{"--listen", ":6000"},
			func(t *testing.T, c config.Config) { eq(t, c.Listen, ":6000") }},
		{"file-values", nil, []string{"--config", "FILE"},
			func(t *testing.T, c config.Config) {
				eq(t, c.Listen, ":9000")
				eq(t, c.MetricsListen, "10.0.0.5:9464")
				eq(t, c.Issuer, "https://file.example.com")
				eq(t, c.SMTPURL, "smtp://mail:25?from=a@b")
				eq(t, c.LockoutThreshold, 5)
				eq(t, c.LockoutBase, 2*time.Minute)
				eq(t, c.TrustedProxies, []string{"10.0.0.0/8", "192.168.0.0/16"})
				eq(t, c.PushNetworks, []string{"10.0.0.0/8=Head office, Berlin", "192.168.7.0/24=Lab"})
				eq(t, c.Dev, true)
				eq(t, c.Captcha, "builtin") // untouched keys keep defaults
			}},
		{"env-beats-file", map[string]string{"LATCHKEY_LISTEN": ":7000", "LATCHKEY_LOCKOUT_THRESHOLD": "3"}, []string{"--config", "FILE"},
			func(t *testing.T, c config.Config) {
				eq(t, c.Listen, ":7000")
				eq(t, c.LockoutThreshold, 3)
				eq(t, c.Issuer, "https://file.example.com")
			}},
		{"flag-beats-env-and-file", map[string]string{"LATCHKEY_ISSUER": "https://env.example.com"},
			[]string{"--config", "FILE", "--issuer", "https://flag.example.com"},
			func(t *testing.T, c config.Config) { eq(t, c.Issuer, "https://flag.example.com") }},
	}
	path := writeFile(t, file)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := append([]string(nil), tt.args...)
			for i := range args {
				if args[i] == "FILE" {
					args[i] = path
				}
			}
			c, err := config.Parse(args)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, file string
		args       []string
		env        map[string]string
		want       string
	}{
		{"unknown-keys-listed", "listen: ':1'\nisuer: x\nsmtp: y\n", nil, nil, "isuer, smtp"},
		{"not-a-mapping", "- a\n- b\n", nil, nil, "YAML"},
		{"bad-duration-in-file", "lockout-base: soon\n", nil, nil, "lockout-base"},
		{"bad-number-in-env", "", nil, map[string]string{"LATCHKEY_LOCKOUT_THRESHOLD": "ten"}, "LATCHKEY_LOCKOUT_THRESHOLD"},
		{"duplicate-key-spellings", "smtp_url: a\nsmtp-url: b\n", nil, nil, "twice"},
		{"missing-file", "", []string{"--config", "/nonexistent/latchkey.yaml"}, nil, "no such file"},
		{"unknown-flag", "", []string{"--issuerr", "x"}, nil, "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := tt.args
			if tt.file != "" {
				args = append([]string{"--config", writeFile(t, tt.file)}, args...)
			}
			_, err := config.Parse(args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func eq[T any](t *testing.T, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestEffectiveListen: dev mode stays on loopback unless LATCHKEY_LISTEN
// says otherwise; production listens on every interface.
func TestEffectiveListen(t *testing.T) {
	tests := []struct {
		name   string
		dev    bool
		listen string
		want   string
	}{
		{"dev-default-is-loopback", true, "", "127.0.0.1:8080"},
		{"dev-listen-set", true, ":8080", ":8080"},
		{"production-default", false, "", ":8080"},
		{"production-listen-set", false, "10.0.0.1:80", "10.0.0.1:80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Defaults()
			c.Dev, c.Listen = tt.dev, tt.listen
			if got := c.EffectiveListen(); got != tt.want {
				t.Fatalf("EffectiveListen() = %q, want %q", got, tt.want)
			}
		})
	}
}
