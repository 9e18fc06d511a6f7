package config

import (
	"net/mail"
	"net/url"
	"strings"
	"unicode"

	"github.com/latchkeyid/latchkey/ui"
	"github.com/latchkeyid/latchkey/ui/colour"
)

// Brand is the brand every page shows.
func (c Config) Brand() ui.Brand {
	return ui.Brand{
		Name: strings.TrimSpace(c.BrandName), LogoURL: c.BrandLogoURL,
		Color: strings.ToLower(c.BrandColor), Accent: strings.ToLower(c.BrandAccent),
		SupportURL: c.BrandSupportURL, SupportMail: c.BrandSupportMail,
	}
}

func (c Config) checkBrand(bad func(v, format string, args ...any)) {
	if n := c.BrandName; len([]rune(n)) > 60 || strings.IndexFunc(n, unicode.IsControl) >= 0 {
		bad("LATCHKEY_BRAND_NAME", "must be at most 60 characters without control characters")
	}
	if msg := ui.LogoProblem(c.BrandLogoURL, c.Issuer); msg != "" {
		bad("LATCHKEY_BRAND_LOGO_URL", "%s", msg)
	}
	if c.BrandColor != "" {
		if col, err := colour.Parse(c.BrandColor); err != nil {
			bad("LATCHKEY_BRAND_COLOR", "must be a hex colour such as #0b57d0 (%q)", c.BrandColor)
		} else if r := colour.Contrast(col, ui.LightSurface); r < colour.TextAA {
			bad("LATCHKEY_BRAND_COLOR", "%s contrasts %.2f:1 with white (the card and the button text), below the 4.5:1 that WCAG AA needs: choose a darker colour", c.BrandColor, r)
		}
	}
	if c.BrandAccent != "" {
		if col, err := colour.Parse(c.BrandAccent); err != nil {
			bad("LATCHKEY_BRAND_ACCENT", "must be a hex colour such as #a8c7fa (%q)", c.BrandAccent)
		} else if r := min(colour.Contrast(col, ui.DarkSurface), colour.Contrast(col, ui.DarkOnAccent)); r < colour.TextAA {
			bad("LATCHKEY_BRAND_ACCENT", "%s contrasts only %.2f:1 with the dark card or the dark button text, below the 4.5:1 that WCAG AA needs: choose a lighter colour", c.BrandAccent, r)
		}
	}
	if v := c.BrandSupportURL; v != "" {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || u.User != nil || (u.Scheme != "https" && !(u.Scheme == "http" && c.Dev)) {
			bad("LATCHKEY_BRAND_SUPPORT_URL", "must be an https URL such as https://help.example.com (%q)", v)
		}
	}
	if v := c.BrandSupportMail; v != "" {
		if a, err := mail.ParseAddress(v); err != nil || a.Address != v || a.Name != "" {
			bad("LATCHKEY_BRAND_SUPPORT_MAIL", "must be a bare mail address such as help@example.com (%q)", v)
		}
	}
}
