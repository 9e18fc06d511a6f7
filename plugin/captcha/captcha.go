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
