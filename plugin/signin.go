package plugin

import (
	"context"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// Account is the browser's current sign-in as the provider sees it.
type Account struct {
	UserID    string
	AuthTime  time.Time
	SessionID string
}

// SignIn is everything the plugin needs from the OpenID provider. The
// provider implements it; cmd connects the two. Keeping it this narrow is
// what lets the plugin run without zitadel.
type SignIn interface {
	// Current returns the browser's signed-in account, false when none.
	Current(c echo.Context) (Account, bool)
	// Complete signs the browser in as userID through the same code as a
	// password sign-in (new session id; amr as given, never "pwd"). When
	// authRequestID is pending and bound to this browser it is marked done
	// and the OP callback URL is returned; otherwise "".
	Complete(c echo.Context, userID string, amr []string, authRequestID string) (redirect string, err error)
	// ContinueURL completes the request that sign-in held while the user
	// was sent to register methods or to change a temporary password, and
	// returns its callback URL. Call it only once the registration is done
	// or skipped as the policy allows, or the password changed: until then
	// the request yields no code.
	ContinueURL(c echo.Context, authRequestID string) (string, error)
	// LoginURL is the sign-in page for a pending request, username
	// prefilled. Without a request, the page takes next=<local path>: where
	// the browser goes after signing in (Security info uses it).
	LoginURL(authRequestID, username string) string
}

// AfterSignIn is the hook the provider calls after each successful password
// sign-in (provider.AfterSignIn has the same method set). A non-empty
// redirect sends the browser there before it returns to the app.
type AfterSignIn interface {
	AfterSignIn(c echo.Context, userID, authRequestID string) (redirect string, err error)
}

// AppNamer is an optional interface of SignIn: the name of the application
// an auth request comes from ("" when unknown), so a push can show the
// user which sign-in they are approving.
type AppNamer interface {
	AppName(ctx context.Context, authRequestID string) string
}

// LanguageHinter is an optional interface of SignIn: the ui_locales of an
// auth request (space-separated) and when it began, so every page of that
// sign-in, recovery included, speaks the language the application asked for.
type LanguageHinter interface {
	UILocales(ctx context.Context, authRequestID string) (uiLocales string, began time.Time)
}

// hintLanguage chooses the page's language again knowing the sign-in it
// belongs to.
func (p *Plugin) hintLanguage(c echo.Context, authRequestID string) {
	h, ok := p.d.SignIn.(LanguageHinter)
	if !ok || authRequestID == "" {
		return
	}
	if locales, began := h.UILocales(c.Request().Context(), authRequestID); locales != "" {
		c.SetRequest(i18n.Hint(c.Request(), locales, began))
	}
}

// signInLanguage applies the ui_locales of the sign-in a page names in
// its authRequestID parameter.
func (p *Plugin) signInLanguage(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p.hintLanguage(c, cleanAuthRequestID(c.FormValue("authRequestID")))
		return next(c)
	}
}

// withApp adds the name of the flow's application to the request facts the
// methods read (push shows it on the device).
func (p *Plugin) withApp(ctx context.Context, authRequestID string) context.Context {
	an, ok := p.d.SignIn.(AppNamer)
	if !ok || authRequestID == "" {
		return ctx
	}
	r := method.RequestFrom(ctx)
	r.App = an.AppName(ctx, authRequestID)
	return method.WithRequest(ctx, r)
}
