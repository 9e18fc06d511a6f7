package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// CSP is the Content-Security-Policy of every page we render: our own
// styles and scripts only, no framing (clickjacking on the password form),
// no plugins, no <base> rewriting. form-action is left out on purpose:
// browsers apply it to the redirects that follow a form POST, and the
// sign-in POST must redirect on to the relying party's origin.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"media-src 'self' data:; connect-src 'self'; manifest-src 'self'; worker-src 'self'; frame-ancestors 'none'; base-uri 'none'"

// Sources are origins a page's policy allows beyond its own, per
// directive: what a hosted widget (a CAPTCHA) loads. Each entry is a CSP
// source expression such as "https://*.hcaptcha.com".
type Sources struct {
	Script, Frame, Style, Connect []string
}

// PolicyFor is CSP with s added to its directives. Frames stay forbidden
// (default-src 'none') unless s names frame sources; the zero Sources
// gives CSP itself.
func PolicyFor(s Sources) string {
	with := func(own string, extra []string) string {
		return strings.Join(append([]string{own}, extra...), " ")
	}
	d := []string{
		"default-src 'none'", "script-src " + with("'self'", s.Script), "style-src " + with("'self'", s.Style),
		"img-src 'self' data:", "media-src 'self' data:", "connect-src " + with("'self'", s.Connect),
		"manifest-src 'self'", "worker-src 'self'",
	}
	if len(s.Frame) > 0 {
		d = append(d, "frame-src "+strings.Join(s.Frame, " "))
	}
	d = append(d, "frame-ancestors 'none'", "base-uri 'none'")
	return strings.Join(d, "; ")
}

// WithSources replaces the page's Content-Security-Policy with
// PolicyFor(s): for the routes that embed a hosted widget, and only those.
func WithSources(s Sources) echo.MiddlewareFunc {
	policy := PolicyFor(s)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set("Content-Security-Policy", policy)
			return next(c)
		}
	}
}

// HSTS asks browsers to use https for two years (checklist: >= 1 year).
const HSTS = "max-age=63072000; includeSubDomains"

// SecurityHeaders sets the headers every human-facing page needs. secure
// (an https issuer) adds Strict-Transport-Security; over plain http the
// header would be ignored and only confuse.
func SecurityHeaders(secure bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", CSP)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
			if secure {
				h.Set("Strict-Transport-Security", HSTS)
			}
			return next(c)
		}
	}
}

// NoStore forbids caching of the response: pages that show or take
// passwords, codes or tokens must never be served from a cache.
func NoStore() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			SetNoStore(c.Response().Header())
			return next(c)
		}
	}
}

// SetNoStore marks h uncacheable (usable from plain net/http code too).
func SetNoStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}
