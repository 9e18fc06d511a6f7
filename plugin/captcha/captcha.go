package captcha

import (
	"context"
	"errors"
	"net/url"
)

// Kind names a verifier, as in LATCHKEY_CAPTCHA.
type Kind string

const (
	Builtin   Kind = "builtin"
	HCaptcha  Kind = "hcaptcha"
	Turnstile Kind = "turnstile"
	Off       Kind = "off"
)

// Widget is what the form needs to show a CAPTCHA. Templates switch on
// Kind: builtin shows ImageURL (and AudioURL as the alternative) and a text
// field named "captcha" plus a hidden "captcha_id"=ID; hcaptcha/turnstile
// load ScriptURL and render their widget with SiteKey.
type Widget struct {
	Kind      Kind
	ID        string // builtin: the captcha id (hidden field "captcha_id")
	ImageURL  string // builtin: /recover/captcha/ID.png
	AudioURL  string // builtin: /recover/captcha/ID.wav
	SiteKey   string // hcaptcha/turnstile
	ScriptURL string // hcaptcha/turnstile widget script
	Field     string // the form field the answer arrives in
	Digits    int    // builtin: how many digits the picture and sound hold
}

// Verifier makes and checks CAPTCHAs. formID binds a CAPTCHA to one
// instance of the form (the flow or form nonce the page carries): a
// solution made for one form does not pass on another.
type Verifier interface {
	Kind() Kind
	// New prepares a CAPTCHA for the form instance formID.
	New(ctx context.Context, formID string) (Widget, error)
	// Verify checks the solution in form (fields per Widget) for formID. A
	// wrong, reused, expired or foreign solution is (false, nil); err is
	// for infrastructure failures (database, siteverify unreachable).
	Verify(ctx context.Context, formID string, form url.Values, remoteIP string) (bool, error)
}

// ErrConfig reports a bad CAPTCHA configuration.
var ErrConfig = errors.New("captcha: bad configuration")

// Origins are what a kind's widget loads from outside the page's own
// origin, per Content-Security-Policy directive, as each vendor documents
// it: hCaptcha (docs.hcaptcha.com, "Content-Security-Policy Settings")
// needs its hosts in script-src, frame-src, style-src and connect-src,
// subdomains by wildcard because asset hosts vary; Turnstile
// (developers.cloudflare.com/turnstile/reference/content-security-policy)
// needs challenges.cloudflare.com in script-src and frame-src. The
// builtin kind and "off" load nothing from elsewhere.
type Origins struct {
	Script, Frame, Style, Connect []string
}

// OriginsOf returns the origins the widget of kind k needs.
func OriginsOf(k Kind) Origins {
	switch k {
	case HCaptcha:
		h := []string{"https://hcaptcha.com", "https://*.hcaptcha.com"}
		return Origins{Script: h, Frame: h, Style: h, Connect: h}
	case Turnstile:
		c := []string{"https://challenges.cloudflare.com"}
		return Origins{Script: c, Frame: c}
	}
	return Origins{}
}
