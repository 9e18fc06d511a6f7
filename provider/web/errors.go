package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/ui"
)

// PageError is an error a handler returns to show the person a specific,
// friendly message. Err (optional) is logged, never shown.
type PageError struct {
	Status   int
	Title    string
	Message  string
	Link     string // optional way forward
	LinkText string
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
		data := map[string]string{"Title": pe.Title, "Message": pe.Message, "Link": pe.Link, "LinkText": pe.LinkText}
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
		return &PageError{Status: ae.Status, Title: "Request refused", Message: ae.Description}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch {
		case he.Code == http.StatusNotFound:
			return &PageError{Status: he.Code, Title: "Page not found", Message: "There is nothing at this address."}
		case he.Code == http.StatusMethodNotAllowed:
			return &PageError{Status: he.Code, Title: "Not allowed", Message: "This page cannot be used that way."}
		case he.Code == http.StatusRequestEntityTooLarge:
			return &PageError{Status: he.Code, Title: "Too much data", Message: "The form sent too much data."}
		case he.Code == http.StatusTooManyRequests:
			return &PageError{Status: he.Code, Title: "Slow down", Message: "Too many requests. Please wait a moment and try again."}
		case he.Code >= 400 && he.Code < 500:
			return &PageError{Status: he.Code, Title: "Request refused", Message: "The request could not be processed. Please go back and try again."}
		}
	}
	return &PageError{Status: http.StatusInternalServerError, Title: "Something went wrong",
		Message: "We could not complete your request. Please try again in a moment."}
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
