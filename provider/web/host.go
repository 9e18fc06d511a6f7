package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// AllowHosts answers 421 Misdirected Request to any request whose Host is
// not one of hosts (host or host:port, compared case-insensitively). Every
// link Latchkey builds comes from the configured issuer, never from Host,
// but refusing foreign Hosts also stops cache poisoning and phishing via a
// misrouted virtual host. /healthz and /readyz stay open for probes that
// dial the pod address.
func AllowHosts(hosts ...string) echo.MiddlewareFunc {
	allowed := map[string]bool{}
	for _, h := range hosts {
		allowed[strings.ToLower(h)] = true
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if len(allowed) == 0 || allowed[strings.ToLower(r.Host)] || probePath(r.URL.Path) {
				return next(c)
			}
			return &PageError{Status: http.StatusMisdirectedRequest, Title: "errors.unknown_host.title",
				Message: "errors.unknown_host.message"}
		}
	}
}

func probePath(p string) bool { return p == "/healthz" || p == "/readyz" }
