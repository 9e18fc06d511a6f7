package twilio

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/latchkeyid/latchkey/plugin/sender"
)

// DefaultURL is Twilio's API host.
const DefaultURL = "https://api.twilio.com"

// DefaultTimeout bounds one API request. Sends happen while the user
// waits for the next page, so a slow gateway must fail fast and let them
// pick another method.
const DefaultTimeout = 10 * time.Second

// MaxExtension is the longest office extension dialled (digits only).
const MaxExtension = 10

// Config is the gateway account (LATCHKEY_TWILIO_URL, _ACCOUNT_SID,
// _AUTH_TOKEN, _FROM).
type Config struct {
	URL        string // API base, default DefaultURL; http only on loopback (tests, local gateways)
	AccountSID string
	AuthToken  string
	From       string // E.164 caller number, or a messaging service SID (MG...) for SMS
	Timeout    time.Duration
	// HTTPClient overrides the client (its Timeout and CheckRedirect are
	// replaced so the rules above hold).
	HTTPClient *http.Client
}

// Client talks to one account of a Twilio-compatible API.
type Client struct {
	base  *url.URL
	sid   string
	token string
	from  string
	http  *http.Client
}

// ErrConfig is a missing or unusable configuration value.
var ErrConfig = errors.New("twilio: bad configuration")

// ErrGateway is the sentinel under every *GatewayError.
var ErrGateway = errors.New("twilio: gateway failure")

// GatewayError is a failed API request. It holds no response body.
type GatewayError struct {
	Op      string // "messages" or "calls"
	Status  int    // HTTP status, 0 when no response arrived
	Code    int    // Twilio's numeric error code when the body had one (e.g. 21211)
	Timeout bool
	cause   error // transport error, never a body
}

func (e *GatewayError) Error() string {
	switch {
	case e.Timeout:
		return "twilio: " + e.Op + ": gateway timed out"
	case e.Status == 0:
		return "twilio: " + e.Op + ": gateway unreachable"
	case e.Code != 0:
		return fmt.Sprintf("twilio: %s: gateway status %d (error %d)", e.Op, e.Status, e.Code)
	}
	return fmt.Sprintf("twilio: %s: gateway status %d", e.Op, e.Status)
}

// Permanent reports whether retrying cannot help: the gateway refused the
// request itself (4xx other than 408 and 429).
func (e *GatewayError) Permanent() bool {
	return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests
}

// Is makes errors.Is(err, ErrGateway) hold, and errors.Is(err,
// sender.ErrPermanent) for permanent failures (the queue drops them).
func (e *GatewayError) Is(target error) bool {
	return target == ErrGateway || (target == sender.ErrPermanent && e.Permanent())
}

// New checks c and returns a client.
func New(c Config) (*Client, error) {
	if c.URL == "" {
		c.URL = DefaultURL
	}
	u, err := url.Parse(strings.TrimRight(c.URL, "/"))
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("%w: URL must be an absolute https URL", ErrConfig)
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return nil, fmt.Errorf("%w: URL must use https (http only on loopback)", ErrConfig)
	}
	if c.AccountSID == "" || strings.ContainsAny(c.AccountSID, "/?#%") || c.AuthToken == "" || c.From == "" {
		return nil, fmt.Errorf("%w: account SID, auth token and from are required", ErrConfig)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	hc := &http.Client{}
	if c.HTTPClient != nil {
		cp := *c.HTTPClient
		hc = &cp
	}
	hc.Timeout = timeout
	// A redirect would carry the Basic credentials elsewhere: treat it as
	// a failure instead of following it.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{base: u, sid: c.AccountSID, token: c.AuthToken, from: c.From, http: hc}, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SMS returns the text-message sender.
func (c *Client) SMS() sender.Sender { return smsSender{c} }

// Voice returns the voice-call sender.
func (c *Client) Voice() sender.Sender { return voiceSender{c} }

type smsSender struct{ c *Client }

func (s smsSender) Channel() sender.Channel { return sender.SMS }
func (s smsSender) Send(ctx context.Context, m sender.Message) error {
	if m.Channel != sender.SMS {
		return fmt.Errorf("%w: twilio: %s message on the SMS sender", sender.ErrPermanent, m.Channel)
	}
	return s.c.SendSMS(ctx, m.To, m.Text)
}

type voiceSender struct{ c *Client }

func (s voiceSender) Channel() sender.Channel { return sender.Voice }
func (s voiceSender) Send(ctx context.Context, m sender.Message) error {
	if m.Channel != sender.Voice {
		return fmt.Errorf("%w: twilio: %s message on the voice sender", sender.ErrPermanent, m.Channel)
	}
	return s.c.Call(ctx, m.To, m.Text, m.Lang, m.Extension)
}

var (
	_ sender.Sender = smsSender{}
	_ sender.Sender = voiceSender{}
)

// SendSMS sends body to the E.164 number to.
func (c *Client) SendSMS(ctx context.Context, to, body string) error {
	f := url.Values{"To": {to}, "Body": {body}}
	if strings.HasPrefix(c.from, "MG") {
		f.Set("MessagingServiceSid", c.from)
	} else {
		f.Set("From", c.from)
	}
	return c.post(ctx, "messages", "Messages.json", f)
}

// Call rings the E.164 number to and says text twice in lang (see
// Language). A non-empty extension (digits only, at most MaxExtension) is
// dialled as DTMF one second after the line answers.
func (c *Client) Call(ctx context.Context, to, text, lang, extension string) error {
	f := url.Values{"To": {to}, "From": {c.from}, "Twiml": {TwiML(text, lang)}}
	if extension != "" {
		if !digitsOnly(extension) || len(extension) > MaxExtension {
			return fmt.Errorf("%w: twilio: extension must be 1-%d digits", sender.ErrPermanent, MaxExtension)
		}
		// Each "w" waits half a second for the switchboard to answer.
		f.Set("SendDigits", "ww"+extension)
	}
	return c.post(ctx, "calls", "Calls.json", f)
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// TwiML is the call script: text said in lang's voice, a pause, and text
// said again (the listener may miss the start of the call).
func TwiML(text, lang string) string {
	var esc bytes.Buffer
	_ = xml.EscapeText(&esc, []byte(text))
	say := `<Say language="` + Language(lang) + `">` + esc.String() + `</Say>`
	return `<?xml version="1.0" encoding="UTF-8"?><Response>` + say + `<Pause length="1"/>` + say + `</Response>`
}

// voices are languages Twilio's <Say> speaks that Latchkey has call texts
// for; the first is the fallback.
var voices = []language.Tag{
	language.MustParse("en-US"), language.MustParse("en-GB"), language.MustParse("fr-FR"), language.MustParse("fr-CA"),
	language.MustParse("de-DE"), language.MustParse("es-ES"), language.MustParse("es-MX"), language.MustParse("it-IT"),
	language.MustParse("nl-NL"), language.MustParse("pt-BR"), language.MustParse("pt-PT"),
	language.MustParse("ja-JP"), language.MustParse("ar-XA"),
}

var voiceMatcher = language.NewMatcher(voices)

// Language maps a BCP 47 tag ("fr", "en-GB", "de-AT") to the closest
// <Say> language Latchkey supports, en-US when none is close.
func Language(tag string) string {
	t, err := language.Parse(tag)
	if err != nil {
		return voices[0].String()
	}
	_, i, conf := voiceMatcher.Match(t)
	if conf == language.No {
		return voices[0].String()
	}
	return voices[i].String()
}

func (c *Client) post(ctx context.Context, op, resource string, form url.Values) error {
	endpoint := c.base.JoinPath("2010-04-01", "Accounts", c.sid, resource) // #nosec G125 -- the SID is operator configuration that New refuses with / ? # or %, and resource is one of our constants
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("twilio: %s: %w", op, err)
	}
	req.SetBasicAuth(c.sid, c.token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return &GatewayError{Op: op, Timeout: isTimeout(err), cause: scrub(err)}
	}
	defer resp.Body.Close()
	// Read a bounded body: only Twilio's numeric error code is kept.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	var e struct {
		Code int `json:"code"`
	}
	_ = json.Unmarshal(body, &e)
	return &GatewayError{Op: op, Status: resp.StatusCode, Code: e.Code}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// scrub keeps a transport error without its URL (which holds the account
// SID) for debugging.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Unwrap returns the transport error, if any.
func (e *GatewayError) Unwrap() error { return e.cause }
