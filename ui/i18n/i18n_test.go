package i18n

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	goi18n "github.com/nicksnyder/go-i18n/v2/i18n"
)

func TestChoose(t *testing.T) {
	old := "latchkey_lang=fr.1000000" // picked long before the sign-in
	began := time.UnixMilli(5000000)
	for _, tc := range []struct {
		name, url, accept, cookie, ui string
		want                          string
	}{
		{"nothing", "/", "", "", "", "en"},
		{"accept-language", "/", "de-CH,de;q=0.9,en;q=0.5", "", "", "de"},
		{"accept unsupported then supported", "/", "zh-CN, es;q=0.4", "", "", "es"},
		{"accept unknown tag then supported", "/", "zz, fr;q=0.4", "", "", "fr"},
		{"accept by weight", "/", "en;q=0.2, ja;q=0.9", "", "", "ja"},
		{"garbage accept", "/", "\x00;;;q=zz", "", "", "en"},
		{"cookie over accept", "/", "de", old, "", "fr"},
		{"ui_locales over old cookie", "/", "de", old, "ja en", "ja"},
		{"garbage ui_locales ignored", "/", "de", "", "!!! xx-", "de"},
		{"pick on this request wins", "/?lang=ar", "de", old, "ja", "ar"},
		{"unknown pick ignored", "/?lang=tlh", "de", "", "", "de"},
		{"pick after sign-in began wins", "/", "de", "latchkey_lang=es.9000000", "ja", "es"},
		{"hand-made cookie is an old pick", "/", "", "latchkey_lang=de", "fr", "fr"},
		{"bad cookie ignored", "/", "es", "latchkey_lang=<script>.1", "", "es"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.url, nil)
			if tc.accept != "" {
				r.Header.Set("Accept-Language", tc.accept)
			}
			if tc.cookie != "" {
				r.Header.Set("Cookie", tc.cookie)
			}
			var got string
			Middleware(false)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.ui != "" {
					r = Hint(r, tc.ui, began)
				}
				got = From(r.Context()).Lang()
			})).ServeHTTP(httptest.NewRecorder(), r)
			if got != tc.want {
				t.Errorf("language = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPickIsRemembered(t *testing.T) {
	w := httptest.NewRecorder()
	Middleware(true)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).
		ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/login?lang=ja", nil))
	c := w.Result().Cookies()
	if len(c) != 1 || c[0].Name != LangCookie || !strings.HasPrefix(c[0].Value, "ja.") || !c[0].Secure || !c[0].HttpOnly {
		t.Fatalf("cookies = %v, want a secure %s=ja.<time>", c, LangCookie)
	}
}

func TestFromNeverNil(t *testing.T) {
	if From(context.Background()).Lang() != "en" || From(nil).T("common.action.continue") != "Continue" { //nolint:staticcheck // nil on purpose
		t.Fatal("From without a choice is not English")
	}
}

func TestFormats(t *testing.T) {
	at := time.Date(2026, time.March, 2, 13, 5, 0, 0, time.UTC)
	berlin := Zone("Europe%2FBerlin")
	if berlin == nil {
		t.Fatal("Europe/Berlin not accepted")
	}
	for _, tc := range []struct {
		lang string
		zone bool
		want string
	}{
		{"en", false, "2 March 2026, 13:05 (UTC)"},
		{"en", true, "2 March 2026, 14:05 (Europe/Berlin)"},
		{"de", true, "2. März 2026, 14:05 Uhr (Europe/Berlin)"},
		{"fr", false, "2 mars 2026 à 13:05 (UTC)"},
		{"es", false, "2 de marzo de 2026, 13:05 (UTC)"},
		{"ja", false, "2026年3月2日 13:05（UTC）"},
		{"ar", false, "٢ مارس ٢٠٢٦، ١٣:٠٥ (UTC)"},
	} {
		l, ok := For(tc.lang)
		if !ok {
			t.Fatalf("%s not supported", tc.lang)
		}
		if tc.zone {
			l = l.InZone(berlin)
		}
		if got := l.DateTime(at); got != tc.want {
			t.Errorf("%s: DateTime = %q, want %q", tc.lang, got, tc.want)
		}
	}
	if got := English().Number(1234567); got != "1,234,567" {
		t.Errorf("Number = %q", got)
	}
	if l, _ := For("de"); l.Number(1234.5) != "1.234,5" {
		t.Errorf("de Number = %q", l.Number(1234.5))
	}
}

func TestZoneRefusesBadNames(t *testing.T) {
	for _, z := range []string{"", "Local", "UTC", "../../etc/passwd", "Europe/Berlin\x00", "Mars/Olympus", strings.Repeat("A", 100), "/Europe/Berlin"} {
		if Zone(z) != nil {
			t.Errorf("Zone(%q) accepted", z)
		}
	}
}

func TestDir(t *testing.T) {
	for tag, want := range map[string]string{"ar": "rtl", "en": "ltr", "ja": "ltr"} {
		if l, _ := For(tag); l.Dir() != want {
			t.Errorf("%s dir = %s", tag, l.Dir())
		}
	}
}

func TestPickURLKeepsTheQuery(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/login?authRequestID=abc&lang=de", nil)
	if got := PickURL(r, "fr"); got != "?authRequestID=abc&lang=fr" {
		t.Errorf("PickURL = %q", got)
	}
	r = httptest.NewRequest(http.MethodGet, "/end_session?id_token_hint=eyJ.x.y&client_id=web&State=s", nil)
	if got := PickURL(r, "de"); got != "?client_id=web&lang=de" {
		t.Errorf("PickURL = %q, copies a token into the page", got)
	}
}

// Script gives a script an area's plain messages in the language with
// their placeholders as written, for it to fill in; plural messages and
// unknown areas give nothing.
func TestScript(t *testing.T) {
	de, _ := For("de")
	for _, tc := range []struct {
		name, area, id, want string
		present              bool
	}{
		{"translated-with-placeholders", "authenticator", "authenticator.enroll.paired",
			"Dieses Gerät ist gekoppelt: Anmeldeanfragen für {{.Account}} erscheinen hier.", true},
		{"plain", "authenticator", "authenticator.request.deny", "Ablehnen", true},
		{"plural-left-out", "mail", "mail.code.expires", "", false},
		{"other-area-left-out", "authenticator", "mail.code.expires", "", false},
		{"unknown-area", "nonesuch", "nonesuch.a.b", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := de.Script(tc.area)[tc.id]
			if ok != tc.present || got != tc.want {
				t.Errorf("Script(%q)[%q] = %q, %v; want %q, %v", tc.area, tc.id, got, ok, tc.want, tc.present)
			}
		})
	}
	if n := len(English().Script("mail")); n == 0 {
		t.Error("the mail area's plain messages are missing")
	}
	// Each caller gets its own copy: what one adds is not in the next.
	m := de.Script("authenticator")
	m["authenticator.request.deny"] = "changed"
	m["extra.key.here"] = "x"
	if again := de.Script("authenticator"); again["authenticator.request.deny"] != "Ablehnen" || again["extra.key.here"] != "" {
		t.Error("Script handed out a shared map")
	}
}

// TestChosen: only a language some part of the request asked for is
// "chosen" (worth remembering as the user's); the default is not, even
// though it is English as an asked-for English is.
func TestChosen(t *testing.T) {
	for _, tc := range []struct {
		name, url, accept string
		lang              string
		chosen            bool
	}{
		{"nothing", "/", "", "en", false},
		{"unsupported-accept", "/", "zh-CN", "en", false},
		{"accept-english", "/", "en-GB", "en", true},
		{"accept-german", "/", "de", "de", true},
		{"pick", "/?lang=ja", "", "ja", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.url, nil)
			if tc.accept != "" {
				r.Header.Set("Accept-Language", tc.accept)
			}
			var l *Localizer
			Middleware(false)(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				l = From(r.Context())
			})).ServeHTTP(httptest.NewRecorder(), r)
			if l.Lang() != tc.lang || l.Chosen() != tc.chosen {
				t.Errorf("got %s chosen %v, want %s chosen %v", l.Lang(), l.Chosen(), tc.lang, tc.chosen)
			}
		})
	}
}

// TestStored: a remembered tag gives its language; an empty or retired
// one the fallback, English without one.
func TestStored(t *testing.T) {
	de, _ := For("de")
	for _, tc := range []struct {
		tag      string
		fallback *Localizer
		want     string
	}{
		{"ja", nil, "ja"},
		{"", nil, "en"},
		{"", de, "de"},
		{"tlh", de, "de"},
	} {
		if got := Stored(tc.tag, tc.fallback).Lang(); got != tc.want {
			t.Errorf("Stored(%q) = %s, want %s", tc.tag, got, tc.want)
		}
	}
}

// Every embedded catalog parses, and each language's bundle, parsed on
// first use, holds that language's messages, not only English's.
func TestEveryCatalogParses(t *testing.T) {
	en := English().T("common.action.continue")
	for _, l := range languages {
		t.Run(l.Tag, func(t *testing.T) {
			if _, err := bundles[l.Tag](); err != nil {
				t.Fatal(err)
			}
			got := localizers()[l.Tag].T("common.action.continue")
			if got == "common.action.continue" || (l.Tag == "en") != (got == en) {
				t.Errorf("%s: common.action.continue = %q (English %q)", l.Tag, got, en)
			}
		})
	}
}

// A language's bundle falls back to English for a message it lacks, and a
// broken catalog of one language fails that language only.
func TestLoadOneLanguage(t *testing.T) {
	fsys := fstest.MapFS{
		"a.en.toml": {Data: []byte("\"a.x.one\" = \"One\"\n\"a.x.two\" = \"Two\"\n")},
		"a.de.toml": {Data: []byte("\"a.x.one\" = \"Eins\"\n")},
		"a.fr.toml": {Data: []byte("\"a.x.one\" = \n")},
	}
	for _, tc := range []struct {
		tag, want1, want2 string
		broken            bool
	}{
		{"en", "One", "Two", false},
		{"de", "Eins", "Two", false},
		{"es", "One", "Two", false}, // no catalog of its own: English
		{"fr", "", "", true},
	} {
		b, err := load(fsys, tc.tag)
		if (err != nil) != tc.broken {
			t.Fatalf("%s: load error %v, want broken %v", tc.tag, err, tc.broken)
		}
		if tc.broken {
			continue
		}
		lc := goi18n.NewLocalizer(b, tc.tag, "en")
		for id, want := range map[string]string{"a.x.one": tc.want1, "a.x.two": tc.want2} {
			if got, _ := lc.Localize(&goi18n.LocalizeConfig{MessageID: id}); got != want {
				t.Errorf("%s: %s = %q, want %q", tc.tag, id, got, want)
			}
		}
	}
}
