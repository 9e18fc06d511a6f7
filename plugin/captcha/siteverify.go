package captcha

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Official endpoints.
const (
	HCaptchaVerifyURL  = "https://api.hcaptcha.com/siteverify"
	HCaptchaScriptURL  = "https://js.hcaptcha.com/1/api.js"
	TurnstileVerifyURL = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
	TurnstileScriptURL = "https://challenges.cloudflare.com/turnstile/v0/api.js"
)

// SiteVerify checks hCaptcha and Cloudflare Turnstile tokens with their
// siteverify APIs. The providers make each token single use and
// short-lived; Turnstile also binds it to the form instance through cData,
// which the widget is given and siteverify echoes back.
type SiteVerify struct {
	kind      Kind
	siteKey   string
	secret    string
	verifyURL string
	client    *http.Client
}

var _ Verifier = (*SiteVerify)(nil)

// NewSiteVerify returns a verifier for kind (HCaptcha or Turnstile).
// verifyURL "" means the provider's official endpoint (LATCHKEY_CAPTCHA_VERIFY_URL
// overrides it, e.g. for a proxy or a test server). client nil means a
// client with a 10-second timeout.
func NewSiteVerify(kind Kind, siteKey, secret, verifyURL string, client *http.Client) (*SiteVerify, error) {
	if kind != HCaptcha && kind != Turnstile {
		return nil, fmt.Errorf("%w: %q has no siteverify API", ErrConfig, kind)
	}
	if siteKey == "" || secret == "" {
		return nil, fmt.Errorf("%w: %s needs LATCHKEY_CAPTCHA_SITE_KEY and LATCHKEY_CAPTCHA_SECRET", ErrConfig, kind)
	}
	if verifyURL == "" {
		verifyURL = HCaptchaVerifyURL
		if kind == Turnstile {
			verifyURL = TurnstileVerifyURL
		}
	}
	if u, err := url.Parse(verifyURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%w: LATCHKEY_CAPTCHA_VERIFY_URL must be an http(s) URL", ErrConfig)
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &SiteVerify{kind: kind, siteKey: siteKey, secret: secret, verifyURL: verifyURL, client: client}, nil
}

// Kind implements Verifier.
func (s *SiteVerify) Kind() Kind { return s.kind }

// Field is the form field the provider's widget posts its token in.
func (s *SiteVerify) Field() string {
	if s.kind == Turnstile {
		return "cf-turnstile-response"
	}
	return "h-captcha-response"
}

// CData is the value bound into a Turnstile widget for formID (an opaque
// hash: the form id itself never leaves the server).
func CData(formID string) string {
	sum := sha256.Sum256([]byte("latchkey-captcha|" + formID))
	return hex.EncodeToString(sum[:16])
}

// New implements Verifier. For Turnstile, Widget.ID carries the cData the
// template must set as data-cdata.
func (s *SiteVerify) New(_ context.Context, formID string) (Widget, error) {
	w := Widget{Kind: s.kind, SiteKey: s.siteKey, Field: s.Field(), ScriptURL: HCaptchaScriptURL}
	if s.kind == Turnstile {
		w.ScriptURL, w.ID = TurnstileScriptURL, CData(formID)
	}
	return w, nil
}

type verifyResponse struct {
	Success  bool     `json:"success"`
	Errors   []string `json:"error-codes"`
	Hostname string   `json:"hostname"`
	CData    string   `json:"cdata"`
}

// Verify implements Verifier.
func (s *SiteVerify) Verify(ctx context.Context, formID string, form url.Values, remoteIP string) (bool, error) {
	token := form.Get(s.Field())
	if token == "" || len(token) > 4096 {
		return false, nil
	}
	body := url.Values{"secret": {s.secret}, "response": {token}}
	if remoteIP != "" {
		body.Set("remoteip", remoteIP)
	}
	if s.kind == HCaptcha {
		body.Set("sitekey", s.siteKey)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.verifyURL, strings.NewReader(body.Encode()))
	if err != nil {
		return false, fmt.Errorf("captcha: siteverify: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.client.Do(req)
	if err != nil {
		return false, fmt.Errorf("captcha: siteverify: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("captcha: siteverify: HTTP %d", resp.StatusCode)
	}
	var vr verifyResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&vr); err != nil {
		return false, fmt.Errorf("captcha: siteverify: bad response: %w", err)
	}
	if !vr.Success {
		return false, nil
	}
	if s.kind == Turnstile && vr.CData != CData(formID) {
		return false, nil // solved for another form instance
	}
	return true, nil
}

// OffVerifier accepts everything. cmd allows it only in dev mode.
type OffVerifier struct{}

var _ Verifier = OffVerifier{}

// Kind implements Verifier.
func (OffVerifier) Kind() Kind { return Off }

// New implements Verifier.
func (OffVerifier) New(context.Context, string) (Widget, error) { return Widget{Kind: Off}, nil }

// Verify implements Verifier.
func (OffVerifier) Verify(context.Context, string, url.Values, string) (bool, error) {
	return true, nil
}
