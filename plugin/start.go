package plugin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/captcha"
	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/provider/web"
)

// The start page follows post-redirect-get: every answer to a POST is a
// 303 to a GET of /recover?s=STATE, where STATE is a short-lived token
// sealed under the deployment's secret holding the form instance, its
// CAPTCHA, the typed name and the error to show. Showing the page writes
// nothing, Back never re-posts, and Back or reload show the same CAPTCHA
// (picture and sound) while it is live, so digits already heard still
// count.
type startState struct {
	Form    string `json:"f"`
	Captcha string `json:"c,omitempty"`
	Login   string `json:"u,omitempty"`
	Error   string `json:"e,omitempty"` // one of startErrors' keys
	AuthReq string `json:"a,omitempty"`
	Reason  string `json:"r,omitempty"`
	Bind    string `json:"b"` // the browser's CSRF cookie, hashed
	Exp     int64  `json:"x"`
}

// startTTL bounds a start state; the builtin CAPTCHA expires with it.
const startTTL = captcha.BuiltinTTL

var startAAD = []byte("sspr-start")

type startError struct {
	Field, Text string
	Status      int
}

// startErrors: Text is the message ID.
var startErrors = map[string]startError{
	"captcha":  {"captcha", "recover.start.error.captcha", http.StatusOK},
	"username": {"username", "recover.start.error.username", http.StatusOK},
	"busy":     {"captcha", "recover.start.error.busy", http.StatusTooManyRequests},
}

// captchaAgain is a CAPTCHA that can show a live challenge again (the
// builtin one); the hosted kinds render their widget afresh each time.
type captchaAgain interface {
	Again(ctx context.Context, formID, id string) (captcha.Widget, bool, error)
}

// browserBind ties a state to the browser's CSRF cookie, so a link with a
// state made elsewhere (a name typed in for someone) is not shown.
func (p *Plugin) browserBind(c echo.Context) string {
	sum := sha256.Sum256([]byte("sspr-start|" + web.CSRFToken(c)))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func (p *Plugin) sealStart(st startState) string {
	raw, _ := json.Marshal(st) // plain strings and numbers always marshal
	return base64.RawURLEncoding.EncodeToString(p.d.Keys.Box("sspr-start").Seal(raw, startAAD))
}

// openStart reads the state in s; ok is false for anything not sealed
// here, expired or made for another browser.
func (p *Plugin) openStart(c echo.Context, s string) (startState, bool) {
	if s == "" || len(s) > 2048 {
		return startState{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return startState{}, false
	}
	plain, err := p.d.Keys.Box("sspr-start").Open(raw, startAAD)
	if err != nil {
		return startState{}, false
	}
	var st startState
	if json.Unmarshal(plain, &st) != nil || st.Bind != p.browserBind(c) || !p.d.Now().Before(time.UnixMilli(st.Exp)) {
		return startState{}, false
	}
	st.AuthReq, st.Reason = cleanAuthRequestID(st.AuthReq), cleanReason(st.Reason)
	if _, known := startErrors[st.Error]; !known {
		st.Error = ""
	}
	return st, true
}

// freshStart is a new form instance with a new CAPTCHA.
func (p *Plugin) freshStart(c echo.Context, authReq, reason, login, errKey string) (startState, captcha.Widget, error) {
	st := startState{Form: rand.Text(), Login: login, Error: errKey, AuthReq: authReq, Reason: reason,
		Bind: p.browserBind(c), Exp: p.d.Now().Add(startTTL).UnixMilli()}
	w, err := p.d.Captcha.New(c.Request().Context(), st.Form)
	if err != nil {
		return st, w, fmt.Errorf("plugin: captcha: %w", err)
	}
	st.Captcha = w.ID
	return st, w, nil
}

// seeStart answers a POST of the start page: 303 to the GET showing a
// new CAPTCHA, the typed name and errKey's message.
func (p *recovery) seeStart(c echo.Context, authReq, reason, login, errKey string) error {
	st, _, err := p.freshStart(c, authReq, reason, login, errKey)
	if err != nil {
		return err
	}
	return see(c, p.startURL(st))
}

func (p *Plugin) startURL(st startState) string {
	return p.path("/recover") + "?s=" + url.QueryEscape(p.sealStart(st))
}

func (p *recovery) startPage(c echo.Context) error {
	ctx := c.Request().Context()
	st, ok := p.openStart(c, c.QueryParam("s"))
	opened := ok
	var w captcha.Widget
	switch ag, again := p.d.Captcha.(captchaAgain); {
	case ok && again:
		var live bool
		var err error
		if w, live, err = ag.Again(ctx, st.Form, st.Captcha); err != nil {
			return fmt.Errorf("plugin: captcha: %w", err)
		}
		ok = live
	case ok:
		var err error
		if w, err = p.d.Captcha.New(ctx, st.Form); err != nil {
			return fmt.Errorf("plugin: captcha: %w", err)
		}
	}
	if !ok {
		// No state, or its CAPTCHA was spent or expired: a new one, keeping
		// what the old state knew.
		if !opened {
			q := c.QueryParams()
			st.AuthReq, st.Reason = cleanAuthRequestID(q.Get("authRequestID")), cleanReason(q.Get("reason"))
		}
		var err error
		if st, w, err = p.freshStart(c, st.AuthReq, st.Reason, st.Login, ""); err != nil {
			return err
		}
		if c.QueryParam("s") == "" || opened {
			// Redirect so that Back and reload come to this very state. A
			// state that does not open is shown in place: a browser
			// without cookies never matches one, and must not loop.
			return c.Redirect(http.StatusSeeOther, p.startURL(st))
		}
	}
	e := startErrors[st.Error]
	status := http.StatusOK
	if e.Status != 0 {
		status = e.Status
	}
	pol, err := p.d.Policy.Get(ctx)
	if err != nil {
		return err
	}
	intent := flow.Reset
	if st.Reason == "unlock" {
		intent = flow.Unlock
	}
	return p.render(c, status, "recover", map[string]any{
		"Step": stepView{N: 1, M: recoverySteps(pol.Required, intent)},
		// Back returns to sign-in with the typed name; Cancel leaves it.
		"Back": p.d.SignIn.LoginURL(st.AuthReq, st.Login), "Cancel": p.cancelURL(st.AuthReq),
		"Form": st.Form, "Captcha": w, "AuthRequestID": st.AuthReq, "Reason": st.Reason, "Username": st.Login,
		"Error": tr(c, e.Text), "ErrorField": e.Field,
		// After a wrong answer with the name typed, the digits field is
		// where the person goes on.
		"FocusCaptcha": e.Field == "captcha" && st.Login != "" && w.Kind == captcha.Builtin,
	})
}
