package authenticator

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchkeyid/latchkey/plugin/method/push"
)

// Device is one enrolled authenticator: the server it talks to, the
// device ID the server gave it and its private key, which never leaves
// it (only signatures and the public key are sent).
type Device struct {
	Issuer  string `json:"issuer"`
	ID      string `json:"device"`
	Account string `json:"account"`
	Name    string `json:"name,omitempty"`
	// Key is the PKCS#8 DER of the P-256 private key.
	Key []byte `json:"key"`
	// PairingCode, after Enroll, is what the user types on the page that
	// showed the QR code to finish the registration.
	PairingCode string `json:"-"`

	priv *ecdsa.PrivateKey
}

// Client talks to Latchkey's device API.
type Client struct {
	HTTP *http.Client
	Now  func() time.Time
}

func (c *Client) http() *http.Client {
	if c != nil && c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: push.MaxWait + 10*time.Second}
}

func (c *Client) now() time.Time {
	if c != nil && c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Error is an error answer of the server.
type Error struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *Error) Error() string {
	if e.Description != "" {
		return "authenticator: server said: " + e.Description
	}
	return fmt.Sprintf("authenticator: server answered %d %s", e.Status, e.Code)
}

// ErrNotLink means the text is not a Latchkey enrollment link.
var ErrNotLink = errors.New("authenticator: not an enrollment link (expected https://…/static/authenticator/#enroll=…)")

// ParseLink splits an enrollment link into the issuer and the one-time
// token.
func ParseLink(link string) (issuer, token string, err error) {
	u, err := url.Parse(strings.TrimSpace(link))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", "", ErrNotLink
	}
	frag, err := url.ParseQuery(u.Fragment)
	if err != nil || frag.Get("enroll") == "" {
		return "", "", ErrNotLink
	}
	p, ok := strings.CutSuffix(u.Path, push.EnrollPath)
	if !ok {
		return "", "", ErrNotLink
	}
	return u.Scheme + "://" + u.Host + p, frag.Get("enroll"), nil
}

// NewKey makes a device key.
func NewKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

// Enroll registers a new device with the enrollment link: it generates a
// P-256 key (unless key is given) and sends the public key in a request
// signed by the private key.
func (c *Client) Enroll(ctx context.Context, link, name string, key *ecdsa.PrivateKey) (*Device, error) {
	issuer, token, err := ParseLink(link)
	if err != nil {
		return nil, err
	}
	if key == nil {
		if key, err = NewKey(); err != nil {
			return nil, fmt.Errorf("authenticator: key: %w", err)
		}
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("authenticator: key: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, &jose.SignerOptions{EmbedJWK: true})
	if err != nil {
		return nil, fmt.Errorf("authenticator: signer: %w", err)
	}
	body, err := sign(signer, push.EnrollClaims{Typ: push.TypEnroll, Audience: issuer, Token: token, Name: name,
		IssuedAt: c.now().Unix()})
	if err != nil {
		return nil, err
	}
	var out push.EnrollResponse
	if err := c.call(ctx, http.MethodPost, issuer+push.APIPath+"/enroll", "", push.Signed{Signed: body}, &out); err != nil {
		return nil, err
	}
	if out.Device == "" || out.Issuer != issuer || out.Code == "" {
		return nil, fmt.Errorf("authenticator: unexpected enrollment answer")
	}
	return &Device{Issuer: issuer, ID: out.Device, Account: out.Account, Name: name, Key: der, PairingCode: out.Code, priv: key}, nil
}

func sign(s jose.Signer, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("authenticator: sign: %w", err)
	}
	return jws.CompactSerialize()
}

func (d *Device) key() (*ecdsa.PrivateKey, error) {
	if d.priv != nil {
		return d.priv, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(d.Key)
	if err != nil {
		return nil, fmt.Errorf("authenticator: device key: %w", err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("authenticator: device key is not ECDSA")
	}
	d.priv = ec
	return ec, nil
}

func (d *Device) signer() (jose.Signer, error) {
	k, err := d.key()
	if err != nil {
		return nil, err
	}
	return jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k}, (&jose.SignerOptions{}).WithHeader("kid", d.ID))
}

// Token returns a fresh single-use bearer token for the device API, valid
// one minute from now.
func (d *Device) Token(now time.Time) (string, error) {
	s, err := d.signer()
	if err != nil {
		return "", err
	}
	return sign(s, push.TokenClaims{Typ: push.TypToken, Audience: d.Issuer, Subject: d.ID, IssuedAt: now.Unix(),
		Expires: now.Add(time.Minute).Unix(), ID: rand.Text()})
}

// SignDecision signs decision (push.Approve, Deny or Report) on challenge
// with the number the user typed.
func (d *Device) SignDecision(challenge, decision, number string, now time.Time) (string, error) {
	s, err := d.signer()
	if err != nil {
		return "", err
	}
	return sign(s, push.DecisionClaims{Typ: push.TypDecision, Audience: d.Issuer, Subject: d.ID, Challenge: challenge,
		Decision: decision, Number: strings.TrimSpace(number), IssuedAt: now.Unix()})
}

// Pending waits up to wait for pending sign-in requests of the device.
func (c *Client) Pending(ctx context.Context, d *Device, wait time.Duration) ([]push.Request, error) {
	tok, err := d.Token(c.now())
	if err != nil {
		return nil, err
	}
	var out push.PendingResponse
	u := d.Issuer + push.APIPath + "/pending?wait=" + strconv.Itoa(int(wait/time.Second))
	if err := c.call(ctx, http.MethodGet, u, tok, nil, &out); err != nil {
		return nil, err
	}
	return out.Requests, nil
}

// Decide sends a signed decision and returns the state the request ended
// in ("approved", "wrong", "denied", "reported").
func (c *Client) Decide(ctx context.Context, d *Device, challenge, decision, number string) (string, error) {
	s, err := d.SignDecision(challenge, decision, number, c.now())
	if err != nil {
		return "", err
	}
	return c.Send(ctx, d, s)
}

// Send posts an already signed decision (tests replay one with it).
func (c *Client) Send(ctx context.Context, d *Device, signed string) (string, error) {
	var out push.DecideResponse
	if err := c.call(ctx, http.MethodPost, d.Issuer+push.APIPath+"/decide", "", push.Signed{Signed: signed}, &out); err != nil {
		return "", err
	}
	return out.Result, nil
}

func (c *Client) call(ctx context.Context, method, u, bearer string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("authenticator: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return fmt.Errorf("authenticator: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("authenticator: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Status: resp.StatusCode}
		_ = json.Unmarshal(data, e)
		return e
	}
	if resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("authenticator: bad answer from server: %w", err)
	}
	return nil
}

// Subscription is a browser's Web Push subscription (PushSubscription's
// JSON form).
type Subscription struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256dh string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
}

// Subscribe registers a Web Push subscription for the device, so the
// server can wake it when a request is waiting.
func (c *Client) Subscribe(ctx context.Context, d *Device, s Subscription) error {
	tok, err := d.Token(c.now())
	if err != nil {
		return err
	}
	var out struct{}
	return c.call(ctx, http.MethodPost, d.Issuer+push.APIPath+"/subscribe", tok, s, &out)
}
