package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/ui"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// PageError is an error a handler returns to show the person a specific,
// friendly message: what went wrong in plain words and what to do next.
// Title, Message and LinkText are message IDs ("errors.gone.title"),
// translated when the page renders, with Data as their values (name,
// value pairs); a text that is no ID shows as it is. Err (optional) is
// logged, never shown.
type PageError struct {
	Status   int
	Title    string
	Message  string
	Link     string // optional way forward
	LinkText string
	Data     []any
	Err      error
}

func (e *PageError) Error() string {
	if e.Err != nil {
		return e.Title + ": " + e.Err.Error()
	}
	return e.Title
}

func (e *PageError) Unwrap() error { return e.Err }

// APIError is an RFC 6749-shaped JSON error for API endpoints.
type APIError struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func (e *APIError) Error() string { return e.Code + ": " + e.Description }

// ErrorHandler returns Echo's HTTPErrorHandler. isAPI says which requests
// want JSON (nil: paths under /api/ or requests that accept only JSON).
// Server faults (5xx and unknown errors) are logged with their detail and
// shown as a generic message; no stack trace or internal text ever reaches
// the client.
func ErrorHandler(r *ui.Renderer, isAPI func(*http.Request) bool) echo.HTTPErrorHandler {
	if isAPI == nil {
		isAPI = DefaultIsAPI
	}
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		pe := toPage(err)
		if pe.Status >= 500 {
			slog.ErrorContext(c.Request().Context(), "request failed",
				"method", c.Request().Method, "path", c.Request().URL.Path, "status", pe.Status, "err", err)
		}
		h := c.Response().Header()
		SetNoStore(h)
		if isAPI(c.Request()) {
			ae := toAPI(err, pe)
			h.Set(echo.HeaderContentType, echo.MIMEApplicationJSONCharsetUTF8)
			c.Response().WriteHeader(ae.Status)
			_ = json.NewEncoder(c.Response()).Encode(ae)
			return
		}
		if c.Request().Method == http.MethodHead {
			c.Response().WriteHeader(pe.Status)
			return
		}
		h.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
		if h.Get("Content-Security-Policy") == "" {
			h.Set("Content-Security-Policy", CSP)
			h.Set("X-Content-Type-Options", "nosniff")
		}
		l := i18n.From(c.Request().Context())
		data := map[string]string{"Title": l.T(pe.Title, pe.Data...), "Message": l.T(pe.Message, pe.Data...),
			"Link": pe.Link, "LinkText": l.T(pe.LinkText, pe.Data...)}
		if pe.LinkText == "" {
			data["LinkText"] = ""
		}
		c.Response().WriteHeader(pe.Status)
		if r == nil || r.Render(c.Response(), c.Request(), "error", data) != nil {
			_, _ = c.Response().Write([]byte("<!doctype html><title>Error</title><p>" + http.StatusText(pe.Status) + "</p>"))
		}
	}
}

// DefaultIsAPI treats /api/ paths and JSON-only clients as API callers.
func DefaultIsAPI(r *http.Request) bool {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		return true
	}
	acc := r.Header.Get("Accept")
	return strings.Contains(acc, "application/json") && !strings.Contains(acc, "text/html")
}

func toPage(err error) *PageError {
	var pe *PageError
	if errors.As(err, &pe) {
		if pe.Status == 0 {
			pe.Status = http.StatusBadRequest
		}
		return pe
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return &PageError{Status: ae.Status, Title: "errors.refused.title", Message: "errors.refused.message", Err: ae}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch {
		case he.Code == http.StatusNotFound:
			return &PageError{Status: he.Code, Title: "errors.not_found.title", Message: "errors.not_found.message"}
		case he.Code == http.StatusMethodNotAllowed:
			return &PageError{Status: he.Code, Title: "errors.method.title", Message: "errors.method.message"}
		case he.Code == http.StatusRequestEntityTooLarge:
			return &PageError{Status: he.Code, Title: "errors.too_large.title", Message: "errors.too_large.message"}
		case he.Code == http.StatusTooManyRequests:
			return &PageError{Status: he.Code, Title: "errors.slow_down.title", Message: "errors.slow_down.message"}
		case he.Code >= 400 && he.Code < 500:
			return &PageError{Status: he.Code, Title: "errors.refused.title", Message: "errors.refused.message"}
		}
	}
	return &PageError{Status: http.StatusInternalServerError, Title: "errors.internal.title",
		Message: "errors.internal.message"}
}

func toAPI(err error, pe *PageError) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		if ae.Status == 0 {
			ae.Status = http.StatusBadRequest
		}
		return ae
	}
	code := "invalid_request"
	switch {
	case pe.Status >= 500:
		code = "server_error"
	case pe.Status == http.StatusUnauthorized:
		code = "invalid_client"
	case pe.Status == http.StatusForbidden:
		code = "access_denied"
	case pe.Status == http.StatusNotFound:
		code = "not_found"
	case pe.Status == http.StatusTooManyRequests:
		code = "slow_down"
	}
	desc := pe.Message
	if pe.Status >= 500 {
		desc = "internal error"
	}
	return &APIError{Status: pe.Status, Code: code, Description: desc}
}
