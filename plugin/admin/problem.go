package admin

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
)

// FieldError is one validation problem: the request field and what is
// wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem details object; handlers return it as
// their error.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail,omitempty"`
	Errors []FieldError `json:"errors,omitempty"`

	header http.Header // e.g. WWW-Authenticate, Retry-After
}

func (p *Problem) Error() string { return p.Title + ": " + p.Detail }

// Problem types (URNs: they name the kind of problem without pretending
// to be a page).
const (
	typeValidation     = "urn:latchkey:problem:validation"
	typeUnauthorized   = "urn:latchkey:problem:unauthorized"
	typeForbidden      = "urn:latchkey:problem:forbidden"
	typeNotFound       = "urn:latchkey:problem:not-found"
	typeConflict       = "urn:latchkey:problem:conflict"
	typePrecondition   = "urn:latchkey:problem:precondition"
	typeIdempotency    = "urn:latchkey:problem:idempotency-key-reused"
	typeInProgress     = "urn:latchkey:problem:idempotency-key-in-progress"
	typeRateLimited    = "urn:latchkey:problem:rate-limited"
	typeUnsupportedMed = "urn:latchkey:problem:unsupported-media-type"
	typeInternal       = "urn:latchkey:problem:internal"
)

func newProblem(status int, typ, detail string) *Problem {
	return &Problem{Type: typ, Title: http.StatusText(status), Status: status, Detail: detail}
}

func invalidFields(detail string, errs ...FieldError) *Problem {
	p := newProblem(http.StatusBadRequest, typeValidation, detail)
	p.Errors = errs
	return p
}

func notFound(detail string) *Problem {
	return newProblem(http.StatusNotFound, typeNotFound, detail)
}

func (p *Problem) with(key, value string) *Problem {
	if p.header == nil {
		p.header = http.Header{}
	}
	p.header.Set(key, value)
	return p
}

// MIMEProblem is the media type of problem details.
const MIMEProblem = "application/problem+json"

// writeError answers err as a problem. Anything that is not a Problem is
// an internal fault: logged, and answered without its detail.
func writeError(c echo.Context, err error) {
	if c.Response().Committed {
		return
	}
	var p *Problem
	var he *echo.HTTPError
	switch {
	case errors.As(err, &p):
	case errors.As(err, &he) && he.Code < 500:
		p = newProblem(he.Code, "about:blank", "")
	default:
		slog.ErrorContext(c.Request().Context(), "admin api: request failed",
			"method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
		p = newProblem(http.StatusInternalServerError, typeInternal, "the request could not be completed; it was logged")
	}
	h := c.Response().Header()
	for k, v := range p.header {
		h[k] = v
	}
	h.Set(echo.HeaderContentType, MIMEProblem)
	c.Response().WriteHeader(p.Status)
	_ = json.NewEncoder(c.Response()).Encode(p)
}
