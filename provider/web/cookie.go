package web

import (
	"net/http"
	"time"
)

// CookieName returns base with the __Host- prefix under https. The prefix
// makes browsers insist on Secure, Path=/ and no Domain, so a sibling
// subdomain cannot plant or overwrite the cookie. Browsers refuse __Host-
// cookies over plain http, hence the bare name in dev.
func CookieName(base string, secure bool) string {
	if secure {
		return "__Host-" + base
	}
	return base
}

// Cookie builds a first-party cookie the way every Latchkey cookie must be:
// HttpOnly, SameSite=Lax (Strict would drop it on the redirect back from a
// relying party and break single sign-on), Path=/, Secure and __Host-
// under https. maxAge 0 makes a browser-session cookie; a negative maxAge
// deletes the cookie.
func Cookie(base, value string, maxAge time.Duration, secure bool) *http.Cookie {
	c := &http.Cookie{ // #nosec G124 -- HttpOnly and SameSite always; Secure whenever the issuer is https (plain http only in dev mode or on loopback)
		Name:     CookieName(base, secure),
		Value:    value,
		Path:     "/",
		Secure:   secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	switch {
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
		c.Expires = time.Now().Add(maxAge).UTC()
	case maxAge < 0:
		c.MaxAge = -1
		c.Expires = time.Unix(1, 0).UTC()
		c.Value = ""
	}
	return c
}

// CookieValue returns the value of the named cookie (base name, prefixed as
// CookieName does), "" when absent.
func CookieValue(r *http.Request, base string, secure bool) string {
	ck, err := r.Cookie(CookieName(base, secure))
	if err != nil {
		return ""
	}
	return ck.Value
}
