package web

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// CSRFField is the form field that carries the CSRF token.
const CSRFField = "csrf"

// csrfKey is where the token sits in the echo.Context.
const csrfKey = "csrf"

const csrfMaxAge = 12 * time.Hour

// CSRF protects every unsafe request with a double-submit token: a random
// value in an HttpOnly, SameSite=Lax cookie (__Host-csrf under https) that
// the form must echo in the `csrf` field. Browsers that send Fetch
// Metadata are refused outright for cross-site or same-site POSTs. Echo's
// middleware would let same-origin Fetch Metadata requests through with no
// token at all; we always require the token, so the header is removed
// before it runs.
func CSRF(secure bool) echo.MiddlewareFunc {
	mw := middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLength:    43, // ~256 bits from echo's alphabet
		TokenLookup:    "form:" + CSRFField,
		ContextKey:     csrfKey,
		CookieName:     CookieName("csrf", secure),
		CookiePath:     "/",
		CookieMaxAge:   int(csrfMaxAge / time.Second),
		CookieSecure:   secure,
		CookieHTTPOnly: true,
		CookieSameSite: http.SameSiteLaxMode,
		ErrorHandler: func(err error, c echo.Context) error {
			return &PageError{Status: http.StatusForbidden, Title: "errors.form_expired.title",
				Message: "errors.form_expired.message", Err: err}
		},
	})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		inner := mw(next)
		return func(c echo.Context) error {
			r := c.Request()
			if !safeMethod(r.Method) {
				switch r.Header.Get("Sec-Fetch-Site") {
				case "cross-site", "same-site":
					return &PageError{Status: http.StatusForbidden, Title: "errors.form_expired.title",
						Message: "errors.cross_site.message"}
				}
			}
			r.Header.Del("Sec-Fetch-Site")
			return inner(c)
		}
	}
}

// CSRFToken returns the token to put in the `csrf` field of a form
// rendered by a handler behind CSRF.
func CSRFToken(c echo.Context) string {
	s, _ := c.Get(csrfKey).(string)
	return s
}

func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// RotateCSRF replaces the browser's CSRF token (call it when the browser
// signs in): a token read or planted before the sign-in, by whoever saw
// the signed-out page, is worth nothing afterwards. The cookie the
// middleware already set on this response is dropped, so the browser gets
// only the new one.
func RotateCSRF(c echo.Context, secure bool) error {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("web: csrf: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b[:]) // 43 characters, like the middleware's
	name := CookieName("csrf", secure)
	h := c.Response().Header()
	kept := h.Values("Set-Cookie")[:0:0]
	for _, v := range h.Values("Set-Cookie") {
		if !strings.HasPrefix(v, name+"=") {
			kept = append(kept, v)
		}
	}
	h.Del("Set-Cookie")
	for _, v := range kept {
		h.Add("Set-Cookie", v)
	}
	// #nosec G124 -- Secure follows the issuer scheme (https in production; plain http only in dev and on loopback)
	c.SetCookie(&http.Cookie{Name: name, Value: token, Path: "/", MaxAge: int(csrfMaxAge / time.Second),
		Expires: time.Now().Add(csrfMaxAge).UTC(), Secure: secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	c.Set(csrfKey, token)
	return nil
}
