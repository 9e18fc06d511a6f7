package push

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/web"
)

// Paths of the device API, under the issuer.
const (
	APIPath    = "/authenticator/api"
	StatusPath = APIPath + "/status/"
	// MaxWait is the longest a device's long-poll is held open.
	MaxWait = 25 * time.Second
)

// Request is a pending push as the device sees it. It never holds the
// number shown on the page.
type Request struct {
	ID    string `json:"id"`
	App   string `json:"app"`
	Place string `json:"place,omitempty"`
	// PlaceID is "internal" when Place is InternalNetwork.
	PlaceID string    `json:"place_id,omitempty"`
	Time    time.Time `json:"time"`
	Expires time.Time `json:"expires"`
}

// PendingResponse is the answer to GET /authenticator/api/pending.
type PendingResponse struct {
	Requests []Request `json:"requests"`
}

// EnrollResponse is the answer to POST /authenticator/api/enroll.
type EnrollResponse struct {
	Device string `json:"device"`
	// Code is the pairing code the device shows for the user to type on
	// the registration page.
	Code    string `json:"code"`
	Account string `json:"account"`
	Issuer  string `json:"issuer"`
}

// DecideResponse is the answer to POST /authenticator/api/decide: the
// state the challenge ended in ("approved", "denied", "reported", "wrong").
type DecideResponse struct {
	Result string `json:"result"`
}

// StatusResponse is the answer to GET /authenticator/api/status/:id.
type StatusResponse struct {
	Status string `json:"status"`
}

// Signed is the body of enroll and decide: one compact JWS.
type Signed struct {
	Signed string `json:"signed"`
}

// Routes registers the device API and a short address for the web app on
// g (the provider's root group). The API takes no cookies: every call is
// authenticated by a signature of the device key, so no CSRF token applies.
func (m *Method) Routes(g *echo.Group) {
	g.GET("/authenticator", func(c echo.Context) error {
		return c.Redirect(http.StatusSeeOther, m.base.Path+EnrollPath)
	})
	api := g.Group(APIPath, web.NoStore(), jsonErrors)
	api.POST("/enroll", m.enroll)
	api.GET("/pending", m.pending)
	api.POST("/decide", m.decide)
	api.GET("/status/:id", m.status)
	api.GET("/vapid", m.vapid)
	api.POST("/subscribe", m.subscribe)
}

// jsonErrors answers the device API's client errors in JSON whatever the
// host's error handler does with paths outside /api/; server faults go to
// that handler (logged there, shown without detail).
func jsonErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err == nil || c.Response().Committed {
			return err
		}
		var ae *web.APIError
		if errors.As(err, &ae) {
			return c.JSON(ae.Status, ae)
		}
		var he *echo.HTTPError
		if errors.As(err, &he) && he.Code >= 400 && he.Code < 500 {
			return c.JSON(he.Code, &web.APIError{Status: he.Code, Code: "invalid_request", Description: http.StatusText(he.Code)})
		}
		return err
	}
}

func apiErr(status int, code, msg string) error {
	return &web.APIError{Status: status, Code: code, Description: msg}
}

func (m *Method) signed(c echo.Context) (string, error) {
	var b Signed
	if err := c.Bind(&b); err != nil || b.Signed == "" {
		return "", apiErr(http.StatusBadRequest, "invalid_request", "expected a JSON body {\"signed\": JWS}")
	}
	return b.Signed, nil
}

// deviceName keeps a short, printable name for the device list.
func deviceName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, strings.TrimSpace(s))
	return cut(s, 60)
}

func (m *Method) enroll(c echo.Context) error {
	ctx := c.Request().Context()
	s, err := m.signed(c)
	if err != nil {
		return err
	}
	claims, jwk, err := m.openEnroll(s)
	if err != nil {
		return apiErr(http.StatusBadRequest, "invalid_request", "the enrollment request is not validly signed by a P-256 key for this server")
	}
	pub, err := jwk.MarshalJSON()
	if err != nil {
		return fmt.Errorf("push: enroll: %w", err)
	}
	now := m.now()
	d := deviceRow{ID: rand.Text(), Name: deviceName(claims.Name), PublicKey: pub, CreatedAt: now}
	var l linkRow
	err = db.Transact(ctx, m.g, "push.enroll", func(tx *gorm.DB) error {
		// Single use: only the first device to claim the link gets it.
		res := tx.Model(&linkRow{}).Where("key_hash = ? AND used_at IS NULL AND expires_at > ?", m.linkKey(claims.Token), now).
			Updates(map[string]any{"used_at": now, "device_id": d.ID})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return errLinkDead
		}
		if err := tx.Where("key_hash = ?", m.linkKey(claims.Token)).Take(&l).Error; err != nil {
			return err
		}
		d.UserID = l.UserID
		return tx.Create(&d).Error
	})
	if errors.Is(err, errLinkDead) {
		return apiErr(http.StatusGone, "invalid_grant", "this enrollment link was already used or has expired; show a new QR code")
	}
	if err != nil {
		return fmt.Errorf("push: enroll: %w", err)
	}
	if err := m.recordErr(ctx, audit.Event{Type: EventDevice, UserID: l.UserID, FlowID: l.FlowID, IP: c.RealIP(),
		UserAgent: c.Request().UserAgent(), Outcome: audit.OK, Detail: "device " + d.Name}); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, EnrollResponse{Device: d.ID, Code: m.PairingCode(d.ID), Account: l.Account, Issuer: m.base.String()})
}

var errLinkDead = errors.New("push: link used or expired")

func (m *Method) bearer(c echo.Context) (deviceRow, error) {
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return deviceRow{}, apiErr(http.StatusUnauthorized, "invalid_token", "a device token is required")
	}
	d, err := m.authenticate(c.Request().Context(), tok)
	switch {
	case errors.Is(err, errUnknown):
		return d, apiErr(http.StatusUnauthorized, "invalid_token", "this device is not registered (removed from security info?)")
	case errors.Is(err, errReplay):
		return d, apiErr(http.StatusUnauthorized, "invalid_token", "this device token was already used")
	case errors.Is(err, errBadSignature), errors.Is(err, errClaims):
		return d, apiErr(http.StatusUnauthorized, "invalid_token", "the device token is invalid or expired")
	case err != nil:
		return d, err
	}
	return d, nil
}

// pending returns the device's pending pushes, holding the request open
// up to ?wait= seconds (default and cap MaxWait) until there is one.
func (m *Method) pending(c echo.Context) error {
	d, err := m.bearer(c)
	if err != nil {
		return err
	}
	wait := MaxWait
	if w := c.QueryParam("wait"); w != "" {
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 {
			return apiErr(http.StatusBadRequest, "invalid_request", "wait must be a number of seconds")
		}
		wait = min(time.Duration(n)*time.Second, MaxWait)
	}
	ctx := c.Request().Context()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(m.cfg.PollEvery)
	defer tick.Stop()
	for {
		woken := m.wake.wait(d.ID)
		reqs, err := m.pendingFor(ctx, d.ID)
		if err != nil {
			return err
		}
		if len(reqs) > 0 {
			return c.JSON(http.StatusOK, PendingResponse{Requests: reqs})
		}
		select {
		case <-woken:
		case <-tick.C:
		case <-deadline.C:
			return c.JSON(http.StatusOK, PendingResponse{Requests: []Request{}})
		case <-ctx.Done():
			return nil
		}
	}
}

func (m *Method) pendingFor(ctx context.Context, deviceID string) ([]Request, error) {
	var rows []challengeRow
	if err := m.g.WithContext(ctx).Where("device_id = ? AND status = ? AND expires_at > ?", deviceID, statusPending, m.now()).
		Order("created_at").Limit(10).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("push: pending: %w", err)
	}
	out := make([]Request, len(rows))
	for i, r := range rows {
		out[i] = Request{ID: r.ID, App: r.App, Place: r.Place, Time: r.CreatedAt.UTC(), Expires: r.ExpiresAt.UTC()}
		if r.Place == InternalNetwork {
			out[i].PlaceID = "internal"
		}
	}
	return out, nil
}

// decide takes a signed decision. The state moves from pending exactly
// once (conditional UPDATE), so a replayed approval finds it decided.
func (m *Method) decide(c echo.Context) error {
	ctx := c.Request().Context()
	s, err := m.signed(c)
	if err != nil {
		return err
	}
	d, payload, err := m.device(ctx, s)
	if errors.Is(err, errUnknown) || errors.Is(err, errBadSignature) {
		return apiErr(http.StatusUnauthorized, "invalid_token", "the decision is not signed by a registered device")
	}
	if err != nil {
		return err
	}
	var dc DecisionClaims
	now := m.now()
	if err := json.Unmarshal(payload, &dc); err != nil || dc.Typ != TypDecision || dc.Audience != m.base.String() ||
		dc.Subject != d.ID || dc.Challenge == "" || len(dc.Challenge) > 32 ||
		(dc.Decision != Approve && dc.Decision != Deny && dc.Decision != Report) {
		return apiErr(http.StatusBadRequest, "invalid_request", "malformed decision")
	}
	if iat := time.Unix(dc.IssuedAt, 0); iat.After(now.Add(Skew)) || iat.Before(now.Add(-MaxTTL-Skew)) {
		return apiErr(http.StatusBadRequest, "invalid_request", "the decision is too old or from the future; check the device clock")
	}
	var r challengeRow
	err = m.g.WithContext(ctx).Where("id = ? AND device_id = ?", dc.Challenge, d.ID).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return apiErr(http.StatusNotFound, "invalid_request", "no such request for this device")
	}
	if err != nil {
		return fmt.Errorf("push: decide: %w", err)
	}
	if r.Status != statusPending {
		return apiErr(http.StatusConflict, "invalid_grant", "this request was already answered")
	}
	if !now.Before(r.ExpiresAt) {
		if err := m.expire(ctx, r.ID, now); err != nil {
			return err
		}
		return apiErr(http.StatusGone, "invalid_grant", "this request has expired")
	}
	next, event, outcome := statusDenied, EventDenied, audit.Fail
	switch dc.Decision {
	case Approve:
		if equalMAC(m.numberMAC(r.ID, strings.TrimSpace(dc.Number)), r.NumberMAC) {
			next, event, outcome = statusApproved, EventApproved, audit.OK
		} else {
			next, event = statusWrong, EventWrong
		}
	case Report:
		next, event, outcome = statusReported, EventFraud, audit.Blocked
	}
	err = db.Transact(ctx, m.g, "push.decide", func(tx *gorm.DB) error {
		res := tx.Model(&challengeRow{}).Where("id = ? AND status = ? AND expires_at > ?", r.ID, statusPending, now).
			Updates(map[string]any{"status": next, "decided_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return errDecided
		}
		if block := m.reportBlock(ctx); next == statusReported && block > 0 {
			until := now.Add(block)
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&accountRow{UserID: r.UserID}).Error; err != nil {
				return err
			}
			return tx.Model(&accountRow{}).Where("user_id = ?", r.UserID).Update("blocked_until", until).Error
		}
		return nil
	})
	if errors.Is(err, errDecided) {
		return apiErr(http.StatusConflict, "invalid_grant", "this request was already answered")
	}
	if err != nil {
		return fmt.Errorf("push: decide: %w", err)
	}
	detail := "device " + d.Name + ", request from " + r.IP
	if next == statusReported {
		detail = "user reported a push they did not start; " + detail
	}
	if err := m.recordErr(ctx, audit.Event{Type: event, UserID: r.UserID, FlowID: r.FlowID, IP: c.RealIP(),
		UserAgent: c.Request().UserAgent(), Outcome: outcome, Detail: detail}); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, DecideResponse{Result: next})
}

// reportBlock is how long a fraud report blocks pushes now (0: not at all).
func (m *Method) reportBlock(ctx context.Context) time.Duration {
	if m.cfg.ReportBlockFunc != nil {
		d, err := m.cfg.ReportBlockFunc(ctx)
		if err != nil {
			return m.cfg.ReportBlock // the configured default rather than none
		}
		return d
	}
	return m.cfg.ReportBlock
}

var errDecided = errors.New("push: already decided")

func (m *Method) status(c echo.Context) error {
	id := c.Param("id")
	if id == "" || len(id) > 32 {
		return apiErr(http.StatusNotFound, "invalid_request", "no such request")
	}
	st, err := m.Status(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, StatusResponse{Status: st})
}

// waker lets Challenge wake a device's waiting long-poll at once on this
// instance; other instances find the push at their next database read.
type waker struct {
	mu sync.Mutex
	ch map[string]chan struct{}
}

func newWaker() *waker { return &waker{ch: map[string]chan struct{}{}} }

func (w *waker) wait(id string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.ch[id]
	if !ok {
		c = make(chan struct{})
		w.ch[id] = c
	}
	return c
}

func (w *waker) wake(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := w.ch[id]; ok {
		close(c)
		delete(w.ch, id)
	}
}
