package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// AppSettings are an app's fields an admin sets (lifetimes in whole
// seconds): the create request, and App without the server's fields.
type AppSettings struct {
	ID                     string   `json:"id"`
	Name                   string   `json:"name"`
	LogoURI                string   `json:"logo_uri"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	GrantTypes             []string `json:"grant_types"`
	Public                 bool     `json:"public"`
	ThirdParty             bool     `json:"third_party"`
	AdminAPI               bool     `json:"admin_api"`
	IDTokenAlg             string   `json:"id_token_alg"`
	AccessTokenType        string   `json:"access_token_type"`
	AccessTokenTTL         int64    `json:"access_token_ttl"`
	IDTokenTTL             int64    `json:"id_token_ttl"`
	RefreshIdleTTL         int64    `json:"refresh_idle_ttl"`
	RefreshMaxTTL          int64    `json:"refresh_max_ttl"`
}

// App is an OIDC client as the API shows it.
type App struct {
	AppSettings
	CreatedAt time.Time `json:"created_at"`
}

// AppChange is a partial update; nil fields stay as they are.
type AppChange struct {
	Name                   *string   `json:"name"`
	LogoURI                *string   `json:"logo_uri"`
	RedirectURIs           *[]string `json:"redirect_uris"`
	PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris"`
	GrantTypes             *[]string `json:"grant_types"`
	ThirdParty             *bool     `json:"third_party"`
	AdminAPI               *bool     `json:"admin_api"`
	IDTokenAlg             *string   `json:"id_token_alg"`
	AccessTokenType        *string   `json:"access_token_type"`
	AccessTokenTTL         *int64    `json:"access_token_ttl"`
	IDTokenTTL             *int64    `json:"id_token_ttl"`
	RefreshIdleTTL         *int64    `json:"refresh_idle_ttl"`
	RefreshMaxTTL          *int64    `json:"refresh_max_ttl"`
}

// Errors of an Apps implementation.
var (
	ErrNotFound = errors.New("admin: not found")
	ErrExists   = errors.New("admin: already exists")
)

// InvalidError lists every validation problem of an app definition.
type InvalidError struct{ Problems []FieldError }

func (e *InvalidError) Error() string { return fmt.Sprintf("admin: invalid app: %v", e.Problems) }

// Apps is the OIDC client store (cmd backs it with the OP's storage and
// its validation). Zero lifetimes on create mean the configured defaults.
type Apps interface {
	ListApps(ctx context.Context, after string, limit int) ([]App, error)
	App(ctx context.Context, id string) (*App, error)
	CreateApp(ctx context.Context, in App) (*App, string, error)
	UpdateApp(ctx context.Context, id string, ch AppChange) (*App, error)
	DeleteApp(ctx context.Context, id string) error
	RegenerateSecret(ctx context.Context, id string, grace time.Duration) (string, error)
}

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// Page is a list response.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// cursors are opaque to callers: the last id of the page, encoded.
func encodeCursor(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("a:" + last))
}

func decodeCursor(s string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !strings.HasPrefix(string(b), "a:") || !utf8.Valid(b) || len(b) > 130 {
		return "", false
	}
	return string(b[2:]), true
}

// pageParams reads ?limit= and ?cursor=, every problem at once.
func pageParams(c echo.Context) (after string, limit int, err error) {
	var errs []FieldError
	limit, lerr := limitParam(c)
	if lerr != nil {
		errs = append(errs, *lerr)
	}
	if v := c.QueryParam("cursor"); v != "" {
		var ok bool
		if after, ok = decodeCursor(v); !ok {
			errs = append(errs, FieldError{"cursor", "is not a cursor this API returned"})
		}
	}
	if len(errs) > 0 {
		return "", 0, invalidFields("the query has problems", errs...)
	}
	return after, limit, nil
}

// limitParam reads ?limit= (DefaultLimit when absent).
func limitParam(c echo.Context) (int, *FieldError) {
	v := c.QueryParam("limit")
	if v == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, &FieldError{"limit", fmt.Sprintf("must be a whole number from 1 to %d", MaxLimit)}
	}
	return n, nil
}

// decodeJSON reads a JSON object strictly: an unknown field or a wrong
// type is a 400 naming the field, never a silent default.
func decodeJSON(c echo.Context, v any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != echo.MIMEApplicationJSON {
		return newProblem(http.StatusUnsupportedMediaType, typeUnsupportedMed, "send the body as application/json")
	}
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, 64<<10))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case err == nil:
		if dec.More() {
			return invalidFields("the body must be one JSON object")
		}
		return nil
	case errors.As(err, &te):
		return invalidFields("a field has the wrong type", FieldError{te.Field, "must be " + jsonKind(te.Type.Kind().String())})
	case errors.As(err, &se), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return invalidFields("the body is not valid JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalidFields("the body has a field this operation does not know", FieldError{f, "unknown field"})
	default:
		return invalidFields("the body could not be read")
	}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "int64", "int":
		return "a whole number"
	case "float64":
		return "a number"
	case "struct", "map":
		return "an object"
	}
	return "of another type"
}

// appErr maps the store's errors to problems.
func appErr(err error, id string) error {
	var inv *InvalidError
	switch {
	case errors.As(err, &inv):
		return invalidFields("the app has problems", inv.Problems...)
	case errors.Is(err, ErrNotFound):
		return notFound(fmt.Sprintf("no app %q", id))
	case errors.Is(err, ErrExists):
		return newProblem(http.StatusConflict, typeConflict, fmt.Sprintf("an app with id %q exists", id))
	}
	return err
}

func (a *API) listApps(c echo.Context) error {
	after, limit, err := pageParams(c)
	if err != nil {
		return err
	}
	apps, err := a.d.Apps.ListApps(c.Request().Context(), after, limit+1)
	if err != nil {
		return err
	}
	page := Page[App]{Items: apps}
	if len(apps) > limit {
		page.Items = apps[:limit]
		page.NextCursor = encodeCursor(apps[limit-1].ID)
	}
	if page.Items == nil {
		page.Items = []App{}
	}
	return c.JSON(http.StatusOK, page)
}

func (a *API) getApp(c echo.Context) error {
	app, err := a.d.Apps.App(c.Request().Context(), c.Param("id"))
	if err != nil {
		return appErr(err, c.Param("id"))
	}
	return c.JSON(http.StatusOK, app)
}

// Created is the create response: the only time the secret is shown.
type Created struct {
	App          App    `json:"app"`
	ClientSecret string `json:"client_secret,omitempty"`
}

func (a *API) createApp(c echo.Context) error {
	var in AppSettings
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	app, secret, err := a.d.Apps.CreateApp(c.Request().Context(), App{AppSettings: in})
	if err != nil {
		_ = a.record(c, "admin.client.create", "failed", "client="+safeID(in.ID))
		return appErr(err, in.ID)
	}
	if err := a.record(c, "admin.client.create", "ok", "client="+app.ID); err != nil {
		return err
	}
	c.Response().Header().Set("Location", Prefix+"/apps/"+app.ID)
	return c.JSON(http.StatusCreated, Created{App: *app, ClientSecret: secret}) // #nosec G117 -- the create answer is the one place the new secret is shown, by design
}

// safeID keeps an audit detail short and printable whatever was sent.
func safeID(id string) string {
	if len(id) > 64 || !utf8.ValidString(id) {
		return "(invalid)"
	}
	return strconv.Quote(id)
}

func (a *API) updateApp(c echo.Context) error {
	id := c.Param("id")
	var raw map[string]json.RawMessage
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, 64<<10))
	if err != nil {
		return err
	}
	c.Request().Body = io.NopCloser(strings.NewReader(string(body)))
	var ch AppChange
	if err := decodeJSON(c, &ch); err != nil {
		// Say why for the fields that exist but are fixed.
		if json.Unmarshal(body, &raw) == nil {
			var fixed []FieldError
			for _, f := range []string{"id", "public", "created_at"} {
				if _, ok := raw[f]; ok {
					fixed = append(fixed, FieldError{f, "cannot be changed; create a new app instead"})
				}
			}
			if len(fixed) > 0 {
				return invalidFields("the update has problems", fixed...)
			}
		}
		return err
	}
	if ch == (AppChange{}) {
		return invalidFields("the update changes nothing", FieldError{"", "give at least one field to change"})
	}
	app, err := a.d.Apps.UpdateApp(c.Request().Context(), id, ch)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			_ = a.record(c, "admin.client.update", "failed", "client="+safeID(id))
		}
		return appErr(err, id)
	}
	if err := a.record(c, "admin.client.update", "ok", "client="+app.ID); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, app)
}

func (a *API) deleteApp(c echo.Context) error {
	id := c.Param("id")
	if err := a.d.Apps.DeleteApp(c.Request().Context(), id); err != nil {
		return appErr(err, id)
	}
	if err := a.record(c, "admin.client.delete", "ok", "client="+id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

type secretRequest struct {
	// GracePeriod is how long the old secret keeps working, in seconds.
	GracePeriod int64 `json:"grace_period"`
}

// NewSecret is the regeneration response: the only time it is shown.
type NewSecret struct {
	ClientSecret        string     `json:"client_secret"`
	PreviousSecretUntil *time.Time `json:"previous_secret_valid_until,omitempty"`
}

func (a *API) regenerateSecret(c echo.Context) error {
	id := c.Param("id")
	var in secretRequest
	if c.Request().ContentLength != 0 {
		if err := decodeJSON(c, &in); err != nil {
			return err
		}
	}
	grace := time.Duration(in.GracePeriod) * time.Second
	if in.GracePeriod < 0 || in.GracePeriod > int64(30*24*time.Hour/time.Second) {
		return invalidFields("the request has problems", FieldError{"grace_period", "must be from 0 to 2592000 seconds (30 days)"})
	}
	now := a.d.Now()
	secret, err := a.d.Apps.RegenerateSecret(c.Request().Context(), id, grace)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			_ = a.record(c, "admin.client.secret", "failed", "client="+safeID(id))
		}
		return appErr(err, id)
	}
	if err := a.record(c, "admin.client.secret", "ok", fmt.Sprintf("client=%s grace=%ds", id, in.GracePeriod)); err != nil {
		return err
	}
	out := NewSecret{ClientSecret: secret}
	if grace > 0 {
		until := now.Add(grace).UTC().Truncate(time.Second)
		out.PreviousSecretUntil = &until
	}
	return c.JSON(http.StatusOK, out) // #nosec G117 -- the regeneration answer is the one place the new secret is shown, by design
}
