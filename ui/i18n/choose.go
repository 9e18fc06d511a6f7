package i18n

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	// LangParam is the query parameter of the language picker's links.
	LangParam = "lang"
	// LangCookie remembers a pick as "<tag>.<unix milliseconds of the pick>".
	LangCookie = "latchkey_lang"
	// ZoneCookie holds the browser's IANA time zone, set by /static/tz.js.
	ZoneCookie = "latchkey_tz"
)

// choice is what a request says about its language, kept in the context so
// a handler that learns the sign-in's ui_locales can choose again.
type choice struct {
	pick     string    // a supported tag picked by the person, "" if none
	pickedAt time.Time // when; zero for a pick on this very request
	accept   string    // Accept-Language
	zone     *time.Location
}

type choiceKey struct{}

// Middleware chooses the language of every request and puts it in the
// context (From). A valid ?lang= is remembered in a cookie, marked Secure
// when secure is set (the server is behind https).
func Middleware(secure bool) func(http.Handler) http.Handler {
	return MiddlewareClock(secure, time.Now)
}

// MiddlewareClock is Middleware with the server's clock, the one that
// stamps when a sign-in began: a pick is compared with it.
func MiddlewareClock(secure bool, now func() time.Time) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ch := read(r)
			if ch.pick != "" && ch.pickedAt.IsZero() {
				http.SetCookie(w, &http.Cookie{ // #nosec G124 -- HttpOnly and SameSite always; Secure whenever the issuer is https (plain http only in dev mode or on loopback)
					Name: LangCookie, Value: ch.pick + "." + strconv.FormatInt(now().UnixMilli(), 10),
					Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
				})
			}
			ctx := context.WithValue(r.Context(), choiceKey{}, ch)
			next.ServeHTTP(w, r.WithContext(With(ctx, ch.localizer("", time.Time{}))))
		})
	}
}

// Choose returns the localizer for r: the one Middleware put in its context,
// else one chosen from r itself (tests, handlers outside the middleware).
// A nil r gets English.
func Choose(r *http.Request) *Localizer {
	if r == nil {
		return English()
	}
	if l, ok := r.Context().Value(ctxKey{}).(*Localizer); ok && l != nil {
		return l
	}
	return read(r).localizer("", time.Time{})
}

// Hint returns r with the language chosen again, now knowing the
// ui_locales (space-separated BCP 47 tags) of the sign-in that began at
// began. They win over a pick made before the sign-in began and over
// Accept-Language; a pick made since (on one of its pages) wins over them.
// Unknown or garbage ui_locales change nothing.
func Hint(r *http.Request, uiLocales string, began time.Time) *http.Request {
	ch, ok := r.Context().Value(choiceKey{}).(choice)
	if !ok {
		ch = read(r)
	}
	return r.WithContext(With(r.Context(), ch.localizer(uiLocales, began)))
}

func (ch choice) localizer(uiLocales string, began time.Time) *Localizer {
	tag := ""
	pickedSince := ch.pick != "" && (ch.pickedAt.IsZero() || ch.pickedAt.After(began))
	hinted, hintOK := match(uiLocales)
	switch {
	case pickedSince:
		tag = ch.pick
	case hintOK:
		tag = hinted
	case ch.pick != "":
		tag = ch.pick
	default:
		tag, _ = match(ch.accept)
	}
	l := English()
	if tag != "" {
		c := *localizers()[tag]
		c.chosen = true
		l = &c
	}
	if ch.zone != nil {
		l = l.InZone(ch.zone)
	}
	return l
}

// read collects what r says about its language and time zone.
func read(r *http.Request) choice {
	ch := choice{accept: r.Header.Get("Accept-Language")}
	if c, err := r.Cookie(LangCookie); err == nil {
		tag, at, _ := strings.Cut(c.Value, ".")
		if t, ok := match(tag); ok && t == tag {
			ms, err := strconv.ParseInt(at, 10, 64)
			if err != nil || ms <= 0 {
				ms = 1 // a hand-made cookie: a pick from long ago
			}
			ch.pick, ch.pickedAt = tag, time.UnixMilli(ms)
		}
	}
	if q := r.URL.Query().Get(LangParam); q != "" {
		if t, ok := match(q); ok {
			ch.pick, ch.pickedAt = t, time.Time{}
		}
	}
	if c, err := r.Cookie(ZoneCookie); err == nil {
		ch.zone = Zone(c.Value)
	}
	return ch
}

// zoneName is the shape of an IANA zone name ("Europe/Berlin",
// "America/Argentina/Buenos_Aires", "Etc/GMT+5"); anything else is refused
// before it reaches the zone database.
var zoneName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]{0,30}(/[A-Za-z0-9][A-Za-z0-9_+-]{0,30}){0,2}$`)

// Zone returns the IANA time zone named by a browser (URL-escaped or not),
// nil for UTC, an unknown or malformed name, or "Local".
func Zone(name string) *time.Location {
	if n, err := url.QueryUnescape(name); err == nil {
		name = n
	}
	if name == "UTC" || name == "Local" || !zoneName.MatchString(name) {
		return nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil
	}
	return loc
}

// PickURL returns a picker link to the page of r in the language tag: a
// query-only reference ("?authRequestID=…&lang=de"), so it keeps the page,
// its query (the sign-in in progress) and never names another host.
// Tokens and one-time values in the query (an OP request's id_token_hint,
// code or state) are left out: a page never copies them into its links.
func PickURL(r *http.Request, tag string) string {
	q := url.Values{}
	if r != nil && len(r.URL.RawQuery) <= 1024 {
		q = r.URL.Query()
		for k := range q {
			if _, secret := unsafeParams[strings.ToLower(k)]; secret {
				q.Del(k)
			}
		}
	}
	q.Set(LangParam, tag)
	return "?" + q.Encode()
}

var unsafeParams = map[string]struct{}{
	"id_token_hint": {}, "code": {}, "state": {}, "nonce": {}, "token": {}, "access_token": {},
	"refresh_token": {}, "client_secret": {}, "password": {}, "code_verifier": {}, "request": {},
}
