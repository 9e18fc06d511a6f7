package plugin

import (
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"
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
	// ContinueURL is the callback URL of an already-completed request
	// (used after forced registration returns the user to the app).
	ContinueURL(c echo.Context, authRequestID string) (string, error)
	// LoginURL is the sign-in page for a pending request, username prefilled.
	LoginURL(authRequestID, username string) string
	// RevokeUser revokes every session, refresh token and access token of
	// userID except exceptSessionID, inside tx.
	RevokeUser(tx *gorm.DB, userID, exceptSessionID string) error
}

// AfterSignIn is the hook the provider calls after each successful password
// sign-in (provider.AfterSignIn has the same method set). A non-empty
// redirect sends the browser there before it returns to the app.
type AfterSignIn interface {
	AfterSignIn(c echo.Context, userID, authRequestID string) (redirect string, err error)
}
