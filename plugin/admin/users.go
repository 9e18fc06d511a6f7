package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/useradmin"
	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/user"
)

// UserAdmin is what the user endpoints work with: the stores and the
// operations the `latchkey user` commands use, built the same way.
type UserAdmin struct {
	Users    *user.Store
	Accounts *account.Service
	Ops      *useradmin.Ops
	Methods  *method.Store
	Sessions Sessions
	// Notifier mails the user about a removed method, as Security info
	// and `latchkey method remove` do (nil: no mail).
	Notifier MethodNotifier
}

// Sessions are the browser sessions (cmd backs them with the provider's
// session store, which the plugin side does not import).
type Sessions interface {
	// ListUser lists userID's live sessions, newest first.
	ListUser(ctx context.Context, userID string) ([]SessionInfo, error)
	// LastSignIn is userID's newest sign-in on record (zero: none).
	LastSignIn(ctx context.Context, userID string) (time.Time, error)
}

// SessionInfo is one session as the store tells it.
type SessionInfo struct {
	ID                                         string
	AuthTime, CreatedAt, LastSeenAt, ExpiresAt time.Time
	AMR                                        []string
}

// MethodNotifier is the plugin's method-change mail (plugin.Plugin).
type MethodNotifier interface {
	MethodChanged(ctx context.Context, userID string, e method.Enrollment, added bool) error
}

func (a *API) userRoutes() []route {
	return []route{
		{http.MethodGet, "/users", a.searchUsers},
		{http.MethodPost, "/users", a.createUser},
		{http.MethodGet, "/users/{id}", a.onUser(a.getUser)},
		{http.MethodPatch, "/users/{id}", a.onUser(a.updateUser)},
		{http.MethodDelete, "/users/{id}", a.onUser(a.deleteUser)},
		{http.MethodPost, "/users/{id}/disable", a.onUser(a.disableUser)},
		{http.MethodPost, "/users/{id}/enable", a.onUser(a.enableUser)},
		{http.MethodPost, "/users/{id}/lock", a.onUser(a.lockUser)},
		{http.MethodPost, "/users/{id}/unlock", a.onUser(a.unlockUser)},
		{http.MethodPost, "/users/{id}/password", a.onUser(a.resetPassword)},
		{http.MethodGet, "/users/{id}/methods", a.onUser(a.listMethods)},
		{http.MethodDelete, "/users/{id}/methods/{method}", a.onUser(a.removeMethod)},
		{http.MethodPost, "/users/{id}/register-again", a.onUser(a.registerAgain)},
		{http.MethodGet, "/users/{id}/sessions", a.onUser(a.listSessions)},
		{http.MethodDelete, "/users/{id}/sessions", a.onUser(a.signOutUser)},
		{http.MethodDelete, "/users/{id}/report", a.onUser(a.clearReport)},
		{http.MethodPut, "/users/{id}/admin", a.onUser(a.grantAdmin)},
		{http.MethodDelete, "/users/{id}/admin", a.onUser(a.revokeAdmin)},
	}
}

// UserSummary is a user in a search page.
type UserSummary struct {
	ID          string     `json:"id"`
	Username    string     `json:"username"`
	Email       string     `json:"email"`
	Name        string     `json:"name"`
	Admin       bool       `json:"admin"`
	Disabled    bool       `json:"disabled"`
	LockedUntil *time.Time `json:"locked_until,omitempty"`
}

// User is one user as the API shows it: never user.User, which holds the
// password hash and the lockout's fingerprints.
type User struct {
	ID string `json:"id"`
	UserProfile
	State     UserState `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	// LastSignInAt is the newest browser sign-in on record.
	LastSignInAt *time.Time `json:"last_sign_in_at,omitempty"`
}

// UserProfile is what an admin sets of a user: the create request's
// fields, and User's.
type UserProfile struct {
	Username   string   `json:"username"`
	Email      string   `json:"email"`
	Name       string   `json:"name"`
	GivenName  string   `json:"given_name"`
	FamilyName string   `json:"family_name"`
	Phone      string   `json:"phone"`
	Locale     string   `json:"locale"`
	Groups     []string `json:"groups"`
	Admin      bool     `json:"admin"`
}

// UserState is what an administrator checks before acting.
type UserState struct {
	Disabled           bool       `json:"disabled"`
	LockedUntil        *time.Time `json:"locked_until,omitempty"`
	HasPassword        bool       `json:"has_password"`
	MustChangePassword bool       `json:"must_change_password"`
	// RecoveryRegistered: the user has registered at least one method.
	RecoveryRegistered bool `json:"recovery_registered"`
	Methods            int  `json:"methods"`
	// RegisterAgain: an administrator required a new registration.
	RegisterAgain bool       `json:"register_again"`
	ReportedAt    *time.Time `json:"reported_at,omitempty"`
}

func (a *API) now() time.Time { return a.d.Now().UTC() }

func summaryOf(u *user.User, now time.Time) UserSummary {
	return UserSummary{ID: u.ID, Username: u.Username, Email: u.Email, Name: u.DisplayName, Admin: u.Admin,
		Disabled: u.Disabled, LockedUntil: lockedUntil(u, now)}
}

func lockedUntil(u *user.User, now time.Time) *time.Time {
	if !u.Locked(now) {
		return nil
	}
	t := u.LockedUntil.UTC()
	return &t
}

// userView loads what the API shows of u besides the row.
func (a *API) userView(ctx context.Context, u *user.User) (User, error) {
	ua := a.d.UserAdmin
	ms, err := ua.Methods.List(ctx, u.ID)
	if err != nil {
		return User{}, err
	}
	rep, at, err := plugin.Reported(ctx, a.d.DB, u.ID)
	if err != nil {
		return User{}, err
	}
	last, err := ua.Sessions.LastSignIn(ctx, u.ID)
	if err != nil {
		return User{}, err
	}
	out := User{ID: u.ID, UserProfile: UserProfile{Username: u.Username, Email: u.Email, Name: u.DisplayName,
		GivenName: u.GivenName, FamilyName: u.FamilyName, Phone: u.Phone, Locale: u.Locale, Groups: nonNil(u.Groups),
		Admin: u.Admin}, CreatedAt: u.CreatedAt.UTC(),
		State: UserState{Disabled: u.Disabled, LockedUntil: lockedUntil(u, a.now()), HasPassword: u.PasswordHash != "",
			MustChangePassword: u.MustChangePassword, RecoveryRegistered: len(ms) > 0, Methods: len(ms),
			RegisterAgain: u.RegisterAgainAt != nil}}
	if rep {
		out.State.ReportedAt = &at
	}
	if !last.IsZero() {
		t := last.UTC()
		out.LastSignInAt = &t
	}
	return out, nil
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// userErr maps the stores' errors to problems.
func userErr(err error, id string) error {
	var p *Problem
	switch {
	case errors.As(err, &p):
		return p
	case errors.Is(err, user.ErrNotFound):
		return notFound(fmt.Sprintf("no user %q", id))
	case errors.Is(err, user.ErrExists):
		return newProblem(http.StatusConflict, typeConflict, "the username or email address is already registered")
	case errors.Is(err, user.ErrLastAdmin):
		return newProblem(http.StatusConflict, typeConflict, "refused: this is the last enabled administrator; make another user an administrator first")
	case errors.Is(err, user.ErrOwnAdmin):
		return newProblem(http.StatusConflict, typeConflict, "refused: administrators cannot remove their own admin flag; ask another administrator")
	case errors.Is(err, useradmin.ErrDisabled):
		return newProblem(http.StatusConflict, typeConflict, "the user is disabled, so a setup link would not work; enable them first")
	case errors.Is(err, useradmin.ErrNoMail):
		return newProblem(http.StatusConflict, typeConflict, "no mail sender is configured, so the link cannot be emailed; ask for it in the response instead")
	case errors.Is(err, user.ErrInvalid):
		var fields []FieldError
		for _, f := range user.Fields(err) {
			fields = append(fields, FieldError{Field: f.Field, Message: f.Problem})
		}
		if len(fields) == 0 {
			fields = []FieldError{{Field: "", Message: strings.TrimPrefix(err.Error(), "user: ")}}
		}
		return invalidFields("the request has problems", fields...)
	}
	return err
}

// failed audits a change that was refused or failed (its own audit row
// rolled back with it) and answers its problem.
func (a *API) failed(c echo.Context, typ, id string, err error) error {
	_ = a.record(c, typ, "failed", "user="+id)
	return userErr(err, id)
}

// onUser loads the user the path names, then runs h on them.
func (a *API) onUser(h func(echo.Context, *user.User) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, err := a.target(c)
		if err != nil {
			return err
		}
		return h(c, u)
	}
}

// showUser answers with the user with id as it is now.
func (a *API) showUser(c echo.Context, id string) error {
	u, err := a.d.UserAdmin.Users.ByID(c.Request().Context(), id)
	if err != nil {
		return userErr(err, id)
	}
	return a.getUser(c, u)
}

// target loads the user the path names; an id that cannot be one is the
// same 404 as an unknown one.
func (a *API) target(c echo.Context) (*user.User, error) {
	id := c.Param("id")
	if len(id) > 64 {
		return nil, notFound("no such user")
	}
	u, err := a.d.UserAdmin.Users.ByID(c.Request().Context(), id)
	if err != nil {
		return nil, userErr(err, id)
	}
	return u, nil
}

// auditTx records an admin's change inside the transaction that makes
// it: the change and its audit row commit together.
func (a *API) auditTx(c echo.Context, typ, target, detail string) account.InTx {
	ev := a.event(c, typ, "ok", strings.TrimSpace("user="+target+" "+detail))
	return func(_ context.Context, tx *gorm.DB) error { return a.d.Audit.RecordTx(tx, ev) }
}

// event is the audit event of an admin action, as record writes it.
func (a *API) event(c echo.Context, typ, outcome, detail string) audit.Event {
	who := callerOf(c)
	if !who.user {
		detail = strings.TrimSpace(detail + " by_client=" + who.clientID)
	}
	return audit.Event{Type: typ, UserID: who.id(), IP: c.RealIP(), UserAgent: c.Request().UserAgent(),
		Outcome: outcome, Detail: strings.TrimSpace(detail + " via=api")}
}

func (a *API) searchUsers(c echo.Context) error {
	var errs []FieldError
	limit := DefaultLimit
	if v := c.QueryParam("limit"); v != "" {
		if _, err := fmt.Sscan(v, &limit); err != nil || limit < 1 || limit > MaxLimit || fmt.Sprint(limit) != v {
			errs = append(errs, FieldError{"limit", fmt.Sprintf("must be a whole number from 1 to %d", MaxLimit)})
		}
	}
	q := c.QueryParam("q")
	if len(q) > 254 {
		errs = append(errs, FieldError{"q", "at most 254 bytes"})
	}
	if len(errs) > 0 {
		return invalidFields("the query has problems", errs...)
	}
	p, err := a.d.UserAdmin.Users.Search(c.Request().Context(), q, limit, c.QueryParam("cursor"))
	switch {
	case errors.Is(err, user.ErrBadCursor):
		return invalidFields("the query has problems", FieldError{"cursor", "is not a cursor this search returned"})
	case errors.Is(err, user.ErrInvalid):
		return invalidFields("the query has problems", FieldError{"q", "must be UTF-8 text"})
	case err != nil:
		return err
	}
	page := Page[UserSummary]{Items: make([]UserSummary, len(p.Users)), NextCursor: p.Next}
	now := a.now()
	for i := range p.Users {
		page.Items[i] = summaryOf(&p.Users[i], now)
	}
	return c.JSON(http.StatusOK, page)
}

func (a *API) getUser(c echo.Context, u *user.User) error {
	v, err := a.userView(c.Request().Context(), u)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// UserCreate is the create request.
type UserCreate struct {
	UserProfile
	// Password is the initial password; Temporary: to be changed at the
	// first sign-in. Or SetupLink: the user chooses one with a one-time
	// link, emailed with SendEmail, otherwise returned.
	Password  string `json:"password"`
	Temporary bool   `json:"temporary"`
	SetupLink bool   `json:"setup_link"`
	SendEmail bool   `json:"send_email"`
	LinkTTL   int64  `json:"link_ttl"`
}

// SetupLink is an issued setup link: its URL when it is handed to the
// admin (this once), or only its expiry when it was emailed.
type SetupLink struct {
	URL       string    `json:"url,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	Emailed   bool      `json:"emailed"`
}

// UserCreated is the create response.
type UserCreated struct {
	User      User       `json:"user"`
	SetupLink *SetupLink `json:"setup_link,omitempty"`
}

func linkOf(l *useradmin.Link) *SetupLink {
	if l == nil {
		return nil
	}
	return &SetupLink{URL: l.URL, ExpiresAt: l.Expires.UTC(), Emailed: l.Emailed}
}

// Setup links work from a minute to 30 days (default 72 hours).
const maxLinkTTL = 30 * 24 * 60 * 60

func linkTTL(secs int64, errs *[]FieldError) time.Duration {
	if secs != 0 && (secs < 60 || secs > maxLinkTTL) {
		*errs = append(*errs, FieldError{"link_ttl", fmt.Sprintf("must be from 60 to %d seconds", maxLinkTTL)})
	}
	return time.Duration(secs) * time.Second
}

func (a *API) createUser(c echo.Context) error {
	var in UserCreate
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	var errs []FieldError
	if (in.Password == "") == !in.SetupLink {
		errs = append(errs, FieldError{"password", "give either a password or setup_link: true"})
	}
	ttl := linkTTL(in.LinkTTL, &errs)
	n := useradmin.NewUser{NewUser: user.NewUser{Username: in.Username, Email: in.Email, DisplayName: in.Name,
		GivenName: in.GivenName, FamilyName: in.FamilyName, Phone: in.Phone, Locale: in.Locale, Groups: in.Groups,
		Admin: in.Admin, Password: in.Password}, Temporary: in.Temporary, SetupLink: in.SetupLink,
		SendEmail: in.SendEmail, LinkTTL: ttl}
	ctx, ops := c.Request().Context(), a.d.UserAdmin.Ops
	// Every problem at once: the request's and the profile's.
	if verr := ops.Validate(n); verr != nil || len(errs) > 0 {
		p := invalidFields("the request has problems", errs...)
		if verr != nil {
			if vp, ok := userErr(verr, "").(*Problem); ok && vp.Type == typeValidation {
				p.Errors = append(p.Errors, vp.Errors...)
			}
		}
		return p
	}
	u, link, err := ops.Create(ctx, n)
	if err != nil {
		_ = a.record(c, "admin.user.create", "failed", "username="+safeID(in.Username))
		return userErr(err, in.Username)
	}
	if err := a.record(c, "admin.user.create", "ok", fmt.Sprintf("user=%s username=%s setup_link=%v emailed=%v",
		u.ID, u.Username, link != nil, link != nil && link.Emailed)); err != nil {
		return err
	}
	v, err := a.userView(ctx, u)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", Prefix+"/users/"+u.ID)
	return c.JSON(http.StatusCreated, UserCreated{User: v, SetupLink: linkOf(link)})
}

// UserChange is a partial update of the profile claims and the groups;
// absent fields stay. Groups replaces the whole list.
type UserChange struct {
	Name       *string   `json:"name"`
	GivenName  *string   `json:"given_name"`
	FamilyName *string   `json:"family_name"`
	Email      *string   `json:"email"`
	Phone      *string   `json:"phone"`
	Locale     *string   `json:"locale"`
	Groups     *[]string `json:"groups"`
}

func (a *API) updateUser(c echo.Context, u *user.User) error {
	var ch UserChange
	if err := decodeJSON(c, &ch); err != nil {
		return err
	}
	if ch == (UserChange{}) {
		return invalidFields("the update changes nothing", FieldError{"", "give at least one field to change"})
	}
	ctx := c.Request().Context()
	users := a.d.UserAdmin.Users
	p := user.Profile{DisplayName: ch.Name, GivenName: ch.GivenName, FamilyName: ch.FamilyName, Email: ch.Email,
		Phone: ch.Phone, Locale: ch.Locale}
	var changed []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"name", ch.Name != nil}, {"given_name", ch.GivenName != nil}, {"family_name", ch.FamilyName != nil},
		{"email", ch.Email != nil}, {"phone", ch.Phone != nil}, {"locale", ch.Locale != nil}, {"groups", ch.Groups != nil}} {
		if f.set {
			changed = append(changed, f.name)
		}
	}
	err := db.Transact(ctx, a.d.DB, "admin.user.update", func(tx *gorm.DB) error {
		st := users.WithTx(tx)
		if p != (user.Profile{}) {
			if err := st.UpdateProfile(ctx, u.ID, p); err != nil {
				return err
			}
		}
		if ch.Groups != nil {
			// The new list replaces the old, in this transaction.
			if err := st.RemoveGroups(ctx, u.ID, u.Groups...); err != nil {
				return err
			}
			if err := st.AddGroups(ctx, u.ID, *ch.Groups...); err != nil {
				return fieldsOf(err, "groups")
			}
		}
		return a.d.Audit.RecordTx(tx, a.event(c, "admin.user.update", "ok", "user="+u.ID+" changed="+strings.Join(changed, ",")))
	})
	if err != nil {
		return a.failed(c, "admin.user.update", u.ID, err)
	}
	return a.showUser(c, u.ID)
}

// fieldsOf names field for an ErrInvalid that does not name one.
func fieldsOf(err error, field string) error {
	if errors.Is(err, user.ErrInvalid) && len(user.Fields(err)) == 0 {
		return &user.FieldError{Field: field, Problem: strings.TrimPrefix(err.Error(), "user: ")}
	}
	return err
}

func (a *API) deleteUser(c echo.Context, u *user.User) error {
	ua := a.d.UserAdmin
	also := useradmin.GuardLastAdmin(ua.Users, u.ID, a.auditTx(c, "admin.user.delete", u.ID, "username="+u.Username))
	if err := ua.Accounts.Delete(c.Request().Context(), u.ID, also); err != nil {
		return a.failed(c, "admin.user.delete", u.ID, err)
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) disableUser(c echo.Context, u *user.User) error {
	ua := a.d.UserAdmin
	also := useradmin.GuardLastAdmin(ua.Users, u.ID, a.auditTx(c, "admin.user.disable", u.ID, ""))
	if err := ua.Accounts.Disable(c.Request().Context(), u.ID, also); err != nil {
		return a.failed(c, "admin.user.disable", u.ID, err)
	}
	return a.showUser(c, u.ID)
}

func (a *API) enableUser(c echo.Context, u *user.User) error {
	ctx := c.Request().Context()
	err := db.Transact(ctx, a.d.DB, "admin.user.enable", func(tx *gorm.DB) error {
		if err := a.d.UserAdmin.Users.WithTx(tx).SetDisabled(ctx, u.ID, false); err != nil {
			return err
		}
		return a.d.Audit.RecordTx(tx, a.event(c, "admin.user.enable", "ok", "user="+u.ID))
	})
	if err != nil {
		return a.failed(c, "admin.user.enable", u.ID, err)
	}
	return a.showUser(c, u.ID)
}

// LockRequest locks until a time or for a number of seconds (one of them).
type LockRequest struct {
	Until    *time.Time `json:"until"`
	Duration int64      `json:"duration"`
}

// maxLock is the longest lock: ten years.
const maxLock = 10 * 365 * 24 * time.Hour

func (a *API) lockUser(c echo.Context, u *user.User) error {
	var in LockRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	now := a.now()
	var until time.Time
	switch {
	case (in.Until == nil) == (in.Duration == 0):
		return invalidFields("the request has problems", FieldError{"until", "give either until or duration"})
	case in.Until != nil:
		until = in.Until.UTC()
		if !until.After(now) || until.Sub(now) > maxLock {
			return invalidFields("the request has problems", FieldError{"until", "must be in the future, within ten years"})
		}
	default:
		if in.Duration < 1 || in.Duration > int64(maxLock/time.Second) {
			return invalidFields("the request has problems", FieldError{"duration", "must be from 1 second to ten years"})
		}
		until = now.Add(time.Duration(in.Duration) * time.Second)
	}
	also := a.auditTx(c, "admin.user.lock", u.ID, "until="+until.Format(time.RFC3339))
	if err := a.d.UserAdmin.Accounts.Lock(c.Request().Context(), u.ID, until, also); err != nil {
		return a.failed(c, "admin.user.lock", u.ID, err)
	}
	return a.showUser(c, u.ID)
}

func (a *API) unlockUser(c echo.Context, u *user.User) error {
	if err := a.d.UserAdmin.Ops.Unlock(c.Request().Context(), u.ID, a.auditTx(c, "admin.user.unlock", u.ID, "")); err != nil {
		return a.failed(c, "admin.user.unlock", u.ID, err)
	}
	return a.showUser(c, u.ID)
}

// PasswordReset says how: a generated temporary password, or a setup
// link (emailed with send_email, otherwise returned).
type PasswordReset struct {
	Method    string `json:"method"` // temporary_password | setup_link
	SendEmail bool   `json:"send_email"`
	LinkTTL   int64  `json:"link_ttl"`
}

// PasswordResetDone is the answer, shown this once.
type PasswordResetDone struct {
	TemporaryPassword string     `json:"temporary_password,omitempty"`
	SetupLink         *SetupLink `json:"setup_link,omitempty"`
}

func (a *API) resetPassword(c echo.Context, u *user.User) error {
	var in PasswordReset
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	var errs []FieldError
	ttl := linkTTL(in.LinkTTL, &errs)
	switch in.Method {
	case "temporary_password":
		if in.SendEmail || in.LinkTTL != 0 {
			errs = append(errs, FieldError{"send_email", "send_email and link_ttl go with setup_link"})
		}
	case "setup_link":
	default:
		errs = append(errs, FieldError{"method", "must be temporary_password or setup_link"})
	}
	if len(errs) > 0 {
		return invalidFields("the request has problems", errs...)
	}
	ctx, ops := c.Request().Context(), a.d.UserAdmin.Ops
	var out PasswordResetDone
	var err error
	if in.Method == "setup_link" {
		var l *useradmin.Link
		l, err = ops.ResetToSetupLink(ctx, u, ttl, in.SendEmail,
			a.auditTx(c, "admin.password.reset", u.ID, fmt.Sprintf("setup_link=true emailed=%v", in.SendEmail)))
		out.SetupLink = linkOf(l)
	} else {
		out.TemporaryPassword, err = ops.ResetToTemporary(ctx, u, "", a.auditTx(c, "admin.password.reset", u.ID, "temporary=true"))
	}
	if err != nil {
		return a.failed(c, "admin.password.reset", u.ID, err)
	}
	return c.JSON(http.StatusOK, out) // #nosec G117 -- the reset answer is the one place the temporary password is shown, by design
}

// Method is a registered method: never its secret or full destination.
type Method struct {
	ID           string     `json:"id"`
	Kind         string     `json:"kind"`
	Target       string     `json:"target"` // masked: a•••e@example.com
	RegisteredAt time.Time  `json:"registered_at"`
	UsableAt     time.Time  `json:"usable_at"`
	LastUsedAt   *time.Time `json:"last_used_at,omitempty"`
}

func (a *API) listMethods(c echo.Context, u *user.User) error {
	ms, err := a.d.UserAdmin.Methods.List(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	out := Page[Method]{Items: make([]Method, len(ms))}
	for i, e := range ms {
		out.Items[i] = Method{ID: e.ID, Kind: string(e.Method), Target: e.Label, RegisteredAt: e.VerifiedAt.UTC(),
			UsableAt: e.UsableAt.UTC(), LastUsedAt: e.LastUsedAt}
	}
	return c.JSON(http.StatusOK, out)
}

func (a *API) removeMethod(c echo.Context, u *user.User) error {
	ctx, id := c.Request().Context(), c.Param("method")
	ms := a.d.UserAdmin.Methods
	e, err := ms.Get(ctx, u.ID, id)
	if errors.Is(err, method.ErrNotFound) {
		return notFound("the user has no such method")
	}
	if err != nil {
		return err
	}
	if n := a.d.UserAdmin.Notifier; n != nil {
		// Mailed first, so a removed address hears of it too. A failure is
		// logged, not fatal: the removal is what the admin asked for.
		if err := n.MethodChanged(ctx, u.ID, e, false); err != nil {
			slog.WarnContext(ctx, "admin api: method removal not mailed", "user", u.ID, "err", err)
		}
	}
	err = db.Transact(ctx, a.d.DB, "admin.method.remove", func(tx *gorm.DB) error {
		if err := ms.WithTx(tx).Delete(ctx, u.ID, id); err != nil {
			return err
		}
		return a.d.Audit.RecordTx(tx, a.event(c, "admin.method.remove", "ok",
			fmt.Sprintf("user=%s method=%s label=%s", u.ID, e.Method, e.Label)))
	})
	if errors.Is(err, method.ErrNotFound) {
		return notFound("the user has no such method")
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) registerAgain(c echo.Context, u *user.User) error {
	if err := a.d.UserAdmin.Ops.RequireRegisterAgain(c.Request().Context(), u.ID,
		a.auditTx(c, "admin.user.register-again", u.ID, "")); err != nil {
		return a.failed(c, "admin.user.register-again", u.ID, err)
	}
	return a.showUser(c, u.ID)
}

// Session is one signed-in browser session.
type Session struct {
	ID         string    `json:"id"`
	SignedInAt time.Time `json:"signed_in_at"`
	Methods    []string  `json:"methods"` // RFC 8176 amr of that sign-in
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

func (a *API) listSessions(c echo.Context, u *user.User) error {
	list, err := a.d.UserAdmin.Sessions.ListUser(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	out := Page[Session]{Items: make([]Session, len(list))}
	for i, s := range list {
		out.Items[i] = Session{ID: s.ID, SignedInAt: s.AuthTime.UTC(), Methods: nonNil(s.AMR), CreatedAt: s.CreatedAt.UTC(),
			LastSeenAt: s.LastSeenAt.UTC(), ExpiresAt: s.ExpiresAt.UTC()}
	}
	return c.JSON(http.StatusOK, out)
}

func (a *API) signOutUser(c echo.Context, u *user.User) error {
	if err := a.d.UserAdmin.Accounts.RevokeAll(c.Request().Context(), u.ID, account.Keep{},
		a.auditTx(c, "admin.user.sign-out", u.ID, "")); err != nil {
		return a.failed(c, "admin.user.sign-out", u.ID, err)
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) clearReport(c echo.Context, u *user.User) error {
	cleared, err := plugin.ClearReport(c.Request().Context(), a.d.DB, u.ID)
	if err != nil {
		return err
	}
	if !cleared {
		return notFound("the user has no report to clear")
	}
	if err := a.record(c, "admin.user.clear-report", "ok", "user="+u.ID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) grantAdmin(c echo.Context, u *user.User) error  { return a.setAdmin(c, u, true) }
func (a *API) revokeAdmin(c echo.Context, u *user.User) error { return a.setAdmin(c, u, false) }

func (a *API) setAdmin(c echo.Context, u *user.User, admin bool) error {
	who := callerOf(c)
	actor := ""
	if who.user {
		actor = who.userID
	}
	if err := a.d.UserAdmin.Users.SetAdminGuarded(c.Request().Context(), actor, u.ID, admin); err != nil {
		_ = a.record(c, "admin.user.admin", "failed", fmt.Sprintf("user=%s admin=%v", u.ID, admin))
		return userErr(err, u.ID)
	}
	if err := a.record(c, "admin.user.admin", "ok", fmt.Sprintf("user=%s admin=%v", u.ID, admin)); err != nil {
		return err
	}
	return a.showUser(c, u.ID)
}
