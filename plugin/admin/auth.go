package admin

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/provider/user"
)

// caller is who is calling: an admin user or an admin-API client.
type caller struct {
	user     bool
	userID   string
	clientID string
}

// id names the caller in audit records and rate-limit keys.
func (w caller) id() string {
	if w.user {
		return w.userID
	}
	return "client:" + w.clientID
}

const callerKey = "admin.caller"

func callerOf(c echo.Context) caller {
	w, _ := c.Get(callerKey).(caller)
	return w
}

// challenge builds a 401 or 403 with its RFC 6750 / RFC 9470
// WWW-Authenticate header.
func challenge(status int, code, detail, extra string) *Problem {
	typ := typeUnauthorized
	if status == http.StatusForbidden {
		typ = typeForbidden
	}
	h := `Bearer realm="latchkey-admin"`
	if code != "" {
		h += `, error="` + code + `", error_description="` + detail + `"`
	}
	return newProblem(status, typ, detail).with("WWW-Authenticate", h+extra)
}

// bearerToken reads "Authorization: Bearer <token>" (RFC 6750 §2.1; the
// scheme is case-insensitive). A token in the query or the body is not
// accepted.
func bearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// authenticate admits a token of this issuer with the admin scope: an
// admin-API client's, or an admin's own from a fresh two-proof sign-in.
func (a *API) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		w, err := a.check(c)
		if err != nil {
			var p *Problem
			if errors.As(err, &p) && w.id() != "client:" {
				// A real token turned away (no scope, not an admin, not
				// fresh): worth a line in the audit log. Unknown tokens
				// name no one and are only rate-limited.
				c.Set(callerKey, w)
				_ = a.record(c, "admin.api.denied", "denied", "status="+strconv.Itoa(p.Status)+" path="+c.Request().URL.Path)
			}
			writeError(c, err)
			return nil
		}
		c.Set(callerKey, w)
		return next(c)
	}
}

func (a *API) check(c echo.Context) (caller, error) {
	ctx := c.Request().Context()
	raw, ok := bearerToken(c.Request())
	if !ok {
		if c.Request().Header.Get("Authorization") != "" {
			return caller{}, challenge(http.StatusUnauthorized, "invalid_request", "the Authorization header must be Bearer <token>", "")
		}
		return caller{}, challenge(http.StatusUnauthorized, "", "a bearer access token with the scope "+Scope+" is required", "")
	}
	tok, err := a.d.Tokens.Verify(ctx, raw)
	switch {
	case errors.Is(err, ErrInvalidToken):
		return caller{}, challenge(http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked", "")
	case err != nil:
		return caller{}, err
	}
	who := caller{user: tok.User, userID: tok.Subject, clientID: tok.ClientID}
	if !slices.Contains(tok.Scopes, Scope) {
		return who, challenge(http.StatusForbidden, "insufficient_scope", "the token lacks the scope "+Scope, `, scope="`+Scope+`"`)
	}
	if !tok.User {
		app, err := a.d.Apps.App(ctx, tok.ClientID)
		switch {
		case errors.Is(err, ErrNotFound):
			return caller{}, challenge(http.StatusUnauthorized, "invalid_token", "the token's client no longer exists", "")
		case err != nil:
			return caller{}, err
		case !app.AdminAPI:
			// The flag was removed after the token was issued.
			return who, challenge(http.StatusForbidden, "insufficient_scope", "the client is no longer registered for the admin API", `, scope="`+Scope+`"`)
		}
		return caller{clientID: tok.ClientID}, nil
	}
	u, err := a.d.Users.ByID(ctx, tok.Subject)
	switch {
	case errors.Is(err, user.ErrNotFound):
		return caller{}, challenge(http.StatusUnauthorized, "invalid_token", "the token's user no longer exists", "")
	case err != nil:
		return caller{}, err
	case u.Disabled:
		return caller{}, challenge(http.StatusUnauthorized, "invalid_token", "the token's user is disabled", "")
	case !u.Admin:
		return who, challenge(http.StatusForbidden, "insufficient_scope", "the user is not an administrator", `, scope="`+Scope+`"`)
	}
	if tok.AuthTime.IsZero() || a.d.Now().Sub(tok.AuthTime) > Freshness || !tok.TwoProofs {
		return who, challenge(http.StatusUnauthorized, "insufficient_user_authentication",
			"the admin API needs a sign-in within 15 minutes with two proofs", `, max_age=900, acr_values="mfa"`)
	}
	return caller{user: true, userID: u.ID, clientID: tok.ClientID}, nil
}
