package web

import (
	"log/slog"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// AccessLog logs one line per request at info level: method, path, route,
// status, duration, bytes written, client IP (as the trusted-proxy rules
// resolve it) and request id. The query string is never logged: it holds
// authorization codes, states and flow ids on /authorize and its
// callbacks. Paths of routes with parameters (/recover/:flow, a report
// link's token) are logged as their route pattern for the same reason.
//
// Like the metrics middleware it renders a handler's error itself, so the
// line has the status the client received.
func AccessLog(l *slog.Logger) echo.MiddlewareFunc {
	l = slog.New(LogHandler(l.Handler()))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err)
			}
			r := c.Request()
			path := r.URL.Path
			route := c.Path()
			if strings.Contains(route, ":") {
				path = route
			}
			res := c.Response()
			l.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method),
				slog.String("path", path),
				slog.Int("status", res.Status),
				slog.Duration("duration", time.Since(start)),
				slog.Int64("bytes", res.Size),
				slog.String("ip", c.RealIP()),
			)
			return nil
		}
	}
}
