package captcha

import (
	"fmt"

	"gorm.io/gorm"
)

// Config is the CAPTCHA part of the configuration.
type Config struct {
	Kind      Kind   // LATCHKEY_CAPTCHA ("" = builtin)
	SiteKey   string // LATCHKEY_CAPTCHA_SITE_KEY
	Secret    string // LATCHKEY_CAPTCHA_SECRET
	VerifyURL string // LATCHKEY_CAPTCHA_VERIFY_URL
	Dev       bool   // dev mode: "off" is allowed
}

// FromConfig builds the configured verifier; "off" outside dev mode is an
// error, so a production server never runs without a CAPTCHA.
func FromConfig(c Config, g *gorm.DB, opts ...BuiltinOption) (Verifier, error) {
	switch c.Kind {
	case "", Builtin:
		return NewBuiltin(g, opts...), nil
	case HCaptcha, Turnstile:
		return NewSiteVerify(c.Kind, c.SiteKey, c.Secret, c.VerifyURL, nil)
	case Off:
		if !c.Dev {
			return nil, fmt.Errorf("%w: LATCHKEY_CAPTCHA=off is allowed only in dev mode", ErrConfig)
		}
		return OffVerifier{}, nil
	default:
		return nil, fmt.Errorf("%w: LATCHKEY_CAPTCHA must be builtin, hcaptcha, turnstile or off", ErrConfig)
	}
}
