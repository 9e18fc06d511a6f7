package push

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"syscall"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
	"github.com/labstack/echo/v4"
	"gorm.io/gorm/clause"
)

// Web Push (RFC 8030, VAPID RFC 8292, payload encryption RFC 8291) wakes a
// browser authenticator whose page is closed. It is best effort: the
// long-poll works without it, and a push that cannot be delivered never
// fails the challenge. The payload names the request and the app; it never
// holds the number (and it is encrypted for the browser anyway).

// WebPushTimeout bounds one delivery to a push service.
const WebPushTimeout = 15 * time.Second

type subscriptionRow struct {
	DeviceID  string `gorm:"primaryKey;size:32"`
	Data      []byte
	CreatedAt time.Time
}

func (subscriptionRow) TableName() string { return "push_subscriptions" }

// WebPushPayload is what the service worker receives.
type WebPushPayload struct {
	ID      string    `json:"id"`
	App     string    `json:"app"`
	Expires time.Time `json:"expires"`
}

// vapidKeys derives the server's VAPID key pair from the keyring, so every
// instance has the same one and nothing more needs storing or rotating.
func (m *Method) vapidKeys() (priv, pub string) {
	seed := m.keys.Derive("push/vapid")
	for {
		k, err := ecdh.P256().NewPrivateKey(seed)
		if err == nil {
			return base64.RawURLEncoding.EncodeToString(seed), base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes())
		}
		seed = m.keys.MAC("push/vapid", string(seed)) // out of range (p < 2^-32): derive again
	}
}

// VAPIDPublicKey is the applicationServerKey browsers subscribe with.
func (m *Method) VAPIDPublicKey() string { _, pub := m.vapidKeys(); return pub }

// safeDialer refuses connections to loopback, private, link-local and
// other non-public addresses: the endpoint URL comes from a device, and
// must not become a way to reach the server's own network (SSRF).
func safeDialer(allowPrivate bool) *net.Dialer {
	return &net.Dialer{Timeout: 10 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		if allowPrivate {
			return nil
		}
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return err
		}
		a := ap.Addr().Unmap()
		if !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
			return fmt.Errorf("push: refusing to connect to %s", a)
		}
		return nil
	}}
}

func (m *Method) pushClient() *http.Client {
	if m.cfg.WebPushClient != nil {
		return m.cfg.WebPushClient
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = safeDialer(false).DialContext
	return &http.Client{Transport: t, Timeout: WebPushTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func validSubscription(s webpush.Subscription) error {
	u, err := url.Parse(s.Endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" || len(s.Endpoint) > 1000 || u.User != nil {
		return errors.New("the endpoint must be an https URL")
	}
	p, err1 := base64.RawURLEncoding.DecodeString(trimPad(s.Keys.P256dh))
	a, err2 := base64.RawURLEncoding.DecodeString(trimPad(s.Keys.Auth))
	if err1 != nil || err2 != nil || len(a) != 16 {
		return errors.New("keys.p256dh and keys.auth must be base64url")
	}
	if _, err := ecdh.P256().NewPublicKey(p); err != nil {
		return errors.New("keys.p256dh is not a P-256 public key")
	}
	return nil
}

func trimPad(s string) string {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	return s
}

// vapid answers GET /authenticator/api/vapid.
func (m *Method) vapid(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"key": m.VAPIDPublicKey()})
}

// subscribe stores the device's Web Push subscription (bearer device token).
func (m *Method) subscribe(c echo.Context) error {
	d, err := m.bearer(c)
	if err != nil {
		return err
	}
	var s webpush.Subscription
	if err := c.Bind(&s); err != nil {
		return apiErr(http.StatusBadRequest, "invalid_request", "expected a PushSubscription as JSON")
	}
	if err := validSubscription(s); err != nil {
		return apiErr(http.StatusBadRequest, "invalid_request", err.Error())
	}
	plain, _ := json.Marshal(s)
	row := subscriptionRow{DeviceID: d.ID, Data: m.box.Seal(plain, []byte("webpush|"+d.ID)), CreatedAt: m.now()}
	if err := m.g.WithContext(c.Request().Context()).Clauses(clause.OnConflict{UpdateAll: true}).Create(&row).Error; err != nil {
		return fmt.Errorf("push: subscribe: %w", err)
	}
	return c.NoContent(http.StatusNoContent)
}

// webPush delivers a wake-up for r to its device's browser, if it has a
// subscription, in the background (never inline with the sign-in request).
func (m *Method) webPush(r challengeRow) {
	if !m.sends.add() {
		return // shutting down: the device still finds it by long-poll
	}
	go func() {
		defer m.sends.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), WebPushTimeout)
		defer cancel()
		status, err := m.sendWebPush(ctx, r)
		if err != nil {
			slog.WarnContext(ctx, "push: web push not delivered", "device", r.DeviceID, "err", err)
		}
		if m.cfg.OnWebPush != nil {
			m.cfg.OnWebPush(r.DeviceID, status, err)
		}
	}()
}

func (m *Method) sendWebPush(ctx context.Context, r challengeRow) (int, error) {
	var row subscriptionRow
	if err := m.g.WithContext(ctx).Where("device_id = ?", r.DeviceID).Take(&row).Error; err != nil {
		return 0, nil // no subscription: the device long-polls
	}
	plain, err := m.box.Open(row.Data, []byte("webpush|"+r.DeviceID))
	var s webpush.Subscription
	if err == nil {
		err = json.Unmarshal(plain, &s)
	}
	if err != nil {
		return 0, fmt.Errorf("push: subscription: %w", err)
	}
	payload, _ := json.Marshal(WebPushPayload{ID: r.ID, App: r.App, Expires: r.ExpiresAt.UTC()})
	priv, pub := m.vapidKeys()
	contact := m.cfg.WebPushContact
	if contact == "" {
		contact = m.base.String()
	}
	resp, err := webpush.SendNotificationWithContext(ctx, payload, &s, &webpush.Options{
		HTTPClient: m.pushClient(), Subscriber: contact, VAPIDPublicKey: pub, VAPIDPrivateKey: priv,
		TTL: int(m.cfg.TTL / time.Second), Urgency: webpush.UrgencyHigh, Topic: "signin",
	})
	if err != nil {
		return 0, fmt.Errorf("push: web push: %w", err)
	}
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		// The browser dropped the subscription: forget it.
		m.g.WithContext(ctx).Where("device_id = ?", r.DeviceID).Delete(&subscriptionRow{})
		return resp.StatusCode, fmt.Errorf("push: subscription gone (%d)", resp.StatusCode)
	case resp.StatusCode >= 300:
		return resp.StatusCode, fmt.Errorf("push: push service answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// Wait blocks until background Web Push deliveries are done (shutdown);
// deliveries asked for after it started are skipped.
func (m *Method) Wait() { m.sends.wait() }

// backgroundSends counts Web Push deliveries in flight. A WaitGroup alone
// may not grow while Wait runs, and a late Challenge can come in during
// shutdown, so new sends stop once waiting has begun.
type backgroundSends struct {
	mu      sync.Mutex
	closing bool
	wg      sync.WaitGroup
}

func (b *backgroundSends) add() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing {
		return false
	}
	b.wg.Add(1)
	return true
}

func (b *backgroundSends) wait() {
	b.mu.Lock()
	b.closing = true
	b.mu.Unlock()
	b.wg.Wait()
}
