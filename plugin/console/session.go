package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/web"
)

// session is the console's own sign-in, sealed into a cookie scoped to
// /admin: the browser holds only ciphertext it cannot read or forge.
type session struct {
	Subject  string    `json:"sub"`
	Token    string    `json:"at"`  // the admin's access token for the API
	Expires  time.Time `json:"exp"` // of the access token
	AuthTime time.Time `json:"auth_time"`
	CSRF     string    `json:"csrf"`
	IDToken  string    `json:"idt,omitempty"` // for the end-session hint
}

// pending is a sign-in on its way: what the callback must find again.
type pending struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Next     string    `json:"next"`
	Expires  time.Time `json:"exp"`
}

// Cookie names (with __Secure- under https: the __Host- prefix would
// require Path=/, and these cookies are for /admin only).
const (
	sessionCookie = "lk_console"
	pendingCookie = "lk_console_signin"
	pendingTTL    = 10 * time.Minute
)

// jar seals and opens the console's cookies.
type jar struct {
	box    *secret.Box
	secure bool
}

func newJar(k *secret.Keyring, secure bool) *jar {
	return &jar{box: k.Box("admin-console-cookie"), secure: secure}
}

func (j *jar) name(base string) string {
	if j.secure {
		return "__Secure-" + base
	}
	return base
}

// set writes v sealed into cookie base, bound to its name (a sealed
// sign-in state cannot be replayed as a session).
func (j *jar) set(c echo.Context, base string, v any, maxAge time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sealed := base64.RawURLEncoding.EncodeToString(j.box.Seal(b, []byte(j.name(base))))
	c.SetCookie(j.cookie(base, sealed, maxAge))
	return nil
}

// get opens cookie base into v; false when absent or not ours.
func (j *jar) get(c echo.Context, base string, v any) bool {
	ck, err := c.Request().Cookie(j.name(base))
	if err != nil || len(ck.Value) > 3800 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return false
	}
	b, err := j.box.Open(raw, []byte(j.name(base)))
	return err == nil && json.Unmarshal(b, v) == nil
}

func (j *jar) clear(c echo.Context, base string) { c.SetCookie(j.cookie(base, "", -1)) }

func (j *jar) cookie(base, value string, maxAge time.Duration) *http.Cookie {
	ck := &http.Cookie{ // #nosec G124 -- HttpOnly and SameSite always; Secure whenever the issuer is https
		Name: j.name(base), Value: value, Path: Path, HttpOnly: true, Secure: j.secure, SameSite: http.SameSiteLaxMode,
	}
	if maxAge > 0 {
		ck.MaxAge = int(maxAge / time.Second)
	} else if maxAge < 0 {
		ck.MaxAge = -1
		ck.Expires = time.Unix(1, 0).UTC()
	}
	return ck
}

// randomToken is 256 bits from crypto/rand, URL-safe.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// errCrossSite is the page a forged or foreign POST gets.
var errCrossSite = &web.PageError{Status: http.StatusForbidden, Title: "console.error.csrf_title",
	Message: "console.error.csrf", Link: Path, LinkText: "console.nav.home"}

// checkForm refuses a POST whose CSRF field is not this session's token
// (constant-time) or that a browser says came from another origin.
func (k *Console) checkForm(c echo.Context, s *session) error {
	r := c.Request()
	site := r.Header.Get("Sec-Fetch-Site")
	switch o := r.Header.Get("Origin"); {
	case site == "cross-site" || site == "same-site":
		return errCrossSite
	case o == "null":
		// Our pages send Referrer-Policy: no-referrer, under which a
		// browser names no origin for its own forms; it still says, in
		// Fetch Metadata, that the form is this origin's.
		if site != "same-origin" {
			return errCrossSite
		}
	case o != "" && o != k.origin:
		return errCrossSite
	}
	got := r.PostFormValue(web.CSRFField)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) != 1 {
		return errCrossSite
	}
	return nil
}
