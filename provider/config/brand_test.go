package config_test

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/config"
)

func TestBrandSettings(t *testing.T) {
	png := "data:image/png;base64," + base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\nfake"))
	tests := []struct {
		name   string
		mutate func(c *config.Config)
		want   []string // env vars named in the problems, exactly
		says   string   // a phrase the first problem must contain
	}{
		{"all-set-ok", func(c *config.Config) {
			c.BrandName, c.BrandLogoURL, c.BrandColor, c.BrandAccent = "Example Corp", png, "#6b2fa6", "#d9b8ff"
			c.BrandSupportURL, c.BrandSupportMail = "https://help.example.com/locked-out", "help@example.com"
		}, nil, ""},
		{"logo-on-issuer-ok", func(c *config.Config) { c.BrandLogoURL = "https://id.example.com/assets/logo.svg" }, nil, ""},
		{"logo-svg-ok", func(c *config.Config) { c.BrandLogoURL = "data:image/svg+xml;base64,PHN2Zy8+" }, nil, ""},
		{"name-too-long", func(c *config.Config) { c.BrandName = strings.Repeat("x", 61) }, []string{"LATCHKEY_BRAND_NAME"}, "60"},
		{"name-control", func(c *config.Config) { c.BrandName = "Evil\nCorp" }, []string{"LATCHKEY_BRAND_NAME"}, "control"},
		{"logo-other-host", func(c *config.Config) { c.BrandLogoURL = "https://cdn.example.net/logo.png" }, []string{"LATCHKEY_BRAND_LOGO_URL"}, "issuer's origin"},
		{"logo-http-on-https-issuer", func(c *config.Config) { c.BrandLogoURL = "http://id.example.com/logo.png" }, []string{"LATCHKEY_BRAND_LOGO_URL"}, "issuer's origin"},
		{"logo-javascript", func(c *config.Config) { c.BrandLogoURL = "javascript:alert(1)" }, []string{"LATCHKEY_BRAND_LOGO_URL"}, ""},
		{"logo-data-html", func(c *config.Config) { c.BrandLogoURL = "data:text/html;base64,PGI+" }, []string{"LATCHKEY_BRAND_LOGO_URL"}, "PNG, JPEG"},
		{"logo-data-not-base64", func(c *config.Config) { c.BrandLogoURL = "data:image/png,<svg>" }, []string{"LATCHKEY_BRAND_LOGO_URL"}, "base64"},
		{"logo-data-bad-base64", func(c *config.Config) { c.BrandLogoURL = "data:image/png;base64,!!!" }, []string{"LATCHKEY_BRAND_LOGO_URL"}, "base64"},
		{"logo-data-too-big", func(c *config.Config) {
			c.BrandLogoURL = "data:image/png;base64," + base64.StdEncoding.EncodeToString(make([]byte, 40<<10))
		}, []string{"LATCHKEY_BRAND_LOGO_URL"}, "32 KiB"},
		{"color-not-hex", func(c *config.Config) { c.BrandColor = "purple" }, []string{"LATCHKEY_BRAND_COLOR"}, "hex"},
		{"color-too-light", func(c *config.Config) { c.BrandColor = "#ffcc00" }, []string{"LATCHKEY_BRAND_COLOR"}, "4.5:1"},
		{"color-just-below", func(c *config.Config) { c.BrandColor = "#777777" }, []string{"LATCHKEY_BRAND_COLOR"}, "4.48:1"},
		{"color-just-above-ok", func(c *config.Config) { c.BrandColor = "#767676" }, nil, ""},
		{"accent-too-dark", func(c *config.Config) { c.BrandAccent = "#0b57d0" }, []string{"LATCHKEY_BRAND_ACCENT"}, "4.5:1"},
		{"support-url-http", func(c *config.Config) { c.BrandSupportURL = "http://help.example.com" }, []string{"LATCHKEY_BRAND_SUPPORT_URL"}, "https"},
		{"support-url-javascript", func(c *config.Config) { c.BrandSupportURL = "javascript:alert(1)" }, []string{"LATCHKEY_BRAND_SUPPORT_URL"}, "https"},
		{"support-mail-with-name", func(c *config.Config) { c.BrandSupportMail = "Help <help@example.com>" }, []string{"LATCHKEY_BRAND_SUPPORT_MAIL"}, "bare"},
		{"support-mail-header-injection", func(c *config.Config) { c.BrandSupportMail = "help@example.com?bcc=x@evil.example" }, []string{"LATCHKEY_BRAND_SUPPORT_MAIL"}, ""},
		{"every-problem-at-once", func(c *config.Config) {
			c.BrandName, c.BrandLogoURL, c.BrandColor, c.BrandAccent = strings.Repeat("x", 99), "https://evil.example/x.png", "#fff", "#000"
			c.BrandSupportURL, c.BrandSupportMail = "ftp://x", "nobody"
		}, []string{"LATCHKEY_BRAND_NAME", "LATCHKEY_BRAND_LOGO_URL", "LATCHKEY_BRAND_COLOR", "LATCHKEY_BRAND_ACCENT", "LATCHKEY_BRAND_SUPPORT_URL", "LATCHKEY_BRAND_SUPPORT_MAIL"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := prod()
			tt.mutate(&c)
			err := c.Validate()
			if got := problemVars(t, err); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("problems = %v, want %v (err: %v)", got, tt.want, err)
			}
			if tt.says != "" && !strings.Contains(err.Error(), tt.says) {
				t.Errorf("error %q does not say %q", err, tt.says)
			}
		})
	}
}

func TestBrandDefaultsToLatchkey(t *testing.T) {
	b := prod().Brand()
	if b.ProductName() != "Latchkey" || b.Styled() || b.Logo() != "" || b.Support() != "" {
		t.Errorf("default brand %+v", b)
	}
	c := prod()
	c.BrandName, c.BrandColor, c.BrandSupportMail = " Example Corp ", "#6B2FA6", "help@example.com"
	b = c.Brand()
	if b.ProductName() != "Example Corp" || !b.Styled() || b.Color != "#6b2fa6" || b.Support() != "mailto:help@example.com" {
		t.Errorf("brand %+v", b)
	}
}
