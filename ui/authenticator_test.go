package ui

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/latchkeyid/latchkey/ui/i18n"
)

// getApp asks Static for one of the web app's addresses.
func getApp(t *testing.T, method, path string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	Static().ServeHTTP(w, req)
	return w
}

// appTextOf reads the scripts' messages from the app's page.
func appTextOf(t *testing.T, page string) appText {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var out appText
	if err := json.Unmarshal([]byte(doc.Find(`script#messages[type="application/json"]`).Text()), &out); err != nil {
		t.Fatalf("the page's messages: %v\n%s", err, page)
	}
	return out
}

// The web app's page, its messages.json and its manifest speak the
// language chosen for the request (the picker's cookie, ?lang=,
// Accept-Language), with <html lang dir>, and say that they vary with it.
func TestAppInRequestLanguage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		path   string
		header map[string]string
		lang   string
		dir    string
	}{
		{"no-preference", "/static/authenticator/", nil, "en", "ltr"},
		{"accept-language", "/static/authenticator/", map[string]string{"Accept-Language": "de-CH, fr;q=0.5"}, "de", "ltr"},
		{"picker-cookie-over-accept-language", "/static/authenticator/",
			map[string]string{"Accept-Language": "de", "Cookie": i18n.LangCookie + "=ar.1764000000000"}, "ar", "rtl"},
		{"picker-link", "/static/authenticator/?lang=ja", map[string]string{"Accept-Language": "de"}, "ja", "ltr"},
		{"index-html", "/static/authenticator/index.html", map[string]string{"Accept-Language": "es"}, "es", "ltr"},
		{"unknown-language", "/static/authenticator/", map[string]string{"Accept-Language": "tlh"}, "en", "ltr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := i18n.For(tc.lang)
			w := getApp(t, http.MethodGet, tc.path, tc.header)
			page := w.Body.String()
			if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
				t.Fatalf("GET %s: %d %s", tc.path, w.Code, w.Header().Get("Content-Type"))
			}
			for _, want := range []string{`<html lang="` + tc.lang + `" dir="` + tc.dir + `">`,
				"<h1>" + l.T("authenticator.requests.title") + "</h1>", `aria-current="true">` + langName(tc.lang)} {
				if !strings.Contains(page, want) {
					t.Errorf("the page lacks %s", want)
				}
			}
			checkVaries(t, w, tc.lang)
			got := appTextOf(t, page)
			want := appTextFor(l)
			if got.Lang != tc.lang || got.Dir != tc.dir || len(got.Messages) < 50 {
				t.Errorf("the page's messages are %s/%s with %d texts", got.Lang, got.Dir, len(got.Messages))
			}
			for id, text := range want.Messages {
				if got.Messages[id] != text {
					t.Errorf("the page's %s = %q, want %q", id, got.Messages[id], text)
				}
			}

			_, query, _ := strings.Cut(tc.path, "?")
			mw := getApp(t, http.MethodGet, "/static/authenticator/messages.json?"+query, tc.header)
			if mw.Code != http.StatusOK || !strings.HasPrefix(mw.Header().Get("Content-Type"), "application/json") {
				t.Fatalf("messages.json: %d %s", mw.Code, mw.Header().Get("Content-Type"))
			}
			checkVaries(t, mw, tc.lang)
			var sw appText
			if err := json.Unmarshal(mw.Body.Bytes(), &sw); err != nil {
				t.Fatal(err)
			}
			if sw.Lang != got.Lang || sw.Dir != got.Dir || len(sw.Messages) != len(got.Messages) {
				t.Errorf("messages.json is %s/%s with %d texts, the page %s/%s with %d", sw.Lang, sw.Dir, len(sw.Messages),
					got.Lang, got.Dir, len(got.Messages))
			}
			manifest := getApp(t, http.MethodGet, "/static/authenticator/manifest.json?"+query, tc.header)
			if manifest.Code != http.StatusOK || !strings.HasPrefix(manifest.Header().Get("Content-Type"), "application/manifest+json") {
				t.Fatalf("manifest.json: %d %s", manifest.Code, manifest.Header().Get("Content-Type"))
			}
			checkVaries(t, manifest, tc.lang)
			var m struct{ Name, ShortName, Description, Lang, Dir, Display string }
			if err := json.Unmarshal([]byte(strings.ReplaceAll(manifest.Body.String(), "short_name", "ShortName")), &m); err != nil {
				t.Fatal(err)
			}
			if m.Name != l.T("method.push.name") || m.ShortName != "Authenticator" ||
				m.Description != l.T("authenticator.manifest.description") || m.Lang != tc.lang || m.Dir != tc.dir || m.Display != "standalone" {
				t.Errorf("manifest %+v", m)
			}
			if sw.Messages["authenticator.notify.body"] != l.Script("authenticator")["authenticator.notify.body"] ||
				!strings.Contains(sw.Messages["authenticator.notify.body"], "{{.App}}") {
				t.Errorf("the notification's text for the service worker: %q", sw.Messages["authenticator.notify.body"])
			}
		})
	}
}

func langName(tag string) string {
	for _, l := range i18n.Languages() {
		if l.Tag == tag {
			return l.Name
		}
	}
	return tag
}

// checkVaries: one address, one answer per language; caches must ask
// again and keep the languages apart.
func checkVaries(t *testing.T, w *httptest.ResponseRecorder, lang string) {
	t.Helper()
	h := w.Header()
	if h.Get("Content-Language") != lang || h.Get("Cache-Control") != "no-cache" ||
		!strings.Contains(h.Get("Vary"), "Accept-Language") || !strings.Contains(h.Get("Vary"), "Cookie") {
		t.Errorf("headers %v: want Content-Language %s, Cache-Control no-cache, Vary Accept-Language and Cookie", h, lang)
	}
}

// The rest of the app is the static files as they are; its page and
// messages answer GET and HEAD only.
func TestAppOtherAddresses(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		status       int
		contentType  string
	}{
		{http.MethodHead, "/static/authenticator/", http.StatusOK, "text/html"},
		{http.MethodPost, "/static/authenticator/", http.StatusMethodNotAllowed, "text/plain"},
		{http.MethodPost, "/static/authenticator/messages.json", http.StatusMethodNotAllowed, "text/plain"},
		{http.MethodGet, "/static/authenticator/app.js", http.StatusOK, "text/javascript"},
		{http.MethodGet, "/static/authenticator/icon-192.png", http.StatusOK, "image/png"},
		{http.MethodGet, "/static/authenticator/messages.de.json", http.StatusNotFound, "text/plain"},
	} {
		w := getApp(t, tc.method, tc.path, nil)
		if w.Code != tc.status || !strings.HasPrefix(w.Header().Get("Content-Type"), tc.contentType) {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, w.Code, w.Header().Get("Content-Type"), tc.status, tc.contentType)
		}
		if tc.method == http.MethodHead && w.Body.Len() != 0 {
			t.Errorf("HEAD %s has a body", tc.path)
		}
	}
}

// technical are the words the app's texts keep in every language.
var technical = []string{"otpauth://", "https", "WebCrypto", "JavaScript", "base32", "TOTP", "QR", "Android", "iPhone"}

var markup = regexp.MustCompile(`<[^>]*>`)

var placeholder = regexp.MustCompile(`\{\{\s*\.([A-Za-z0-9_]+)\s*\}\}`)

// The app in every language but English leaves no English behind: on its
// page, no text reads as on the English page, and in Japanese and Arabic
// no Latin word (but the brand, language names and technical terms); in
// its scripts' messages the same, and each keeps English's placeholders,
// since the scripts fill them in by name.
func TestAppTranslated(t *testing.T) {
	page := func(lang string) string {
		return getApp(t, http.MethodGet, "/static/authenticator/?lang="+lang, nil).Body.String()
	}
	keep := append(allowed(), technical...)
	latin := func(s string) bool {
		s = markup.ReplaceAllString(placeholder.ReplaceAllString(s, " "), " ") // <noscript> holds its markup as text
		for _, k := range keep {
			s = strings.ReplaceAll(s, k, " ")
		}
		return latinWord.MatchString(s)
	}
	enPage := page("en")
	english := map[string]bool{}
	for _, s := range texts(t, enPage) {
		english[s] = true
	}
	enMsgs := appTextOf(t, enPage).Messages
	for _, lang := range []string{"de", "fr", "es", "ja", "ar"} {
		t.Run(lang, func(t *testing.T) {
			out := page(lang)
			for _, s := range texts(t, out) {
				if latin(s) && (english[s] || lang == "ja" || lang == "ar") {
					t.Errorf("the page shows %q", s)
				}
			}
			msgs := appTextOf(t, out).Messages
			for _, id := range slices.Sorted(func(yield func(string) bool) {
				for id := range enMsgs {
					if !yield(id) {
						return
					}
				}
			}) {
				en, s := enMsgs[id], msgs[id]
				if latin(s) && (s == en || lang == "ja" || lang == "ar") {
					t.Errorf("%s is %q", id, s)
				}
				if want, got := placeholders(en), placeholders(s); !slices.Equal(want, got) {
					t.Errorf("%s has placeholders %v, English %v", id, got, want)
				}
			}
		})
	}
}

func placeholders(s string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return slices.Compact(out)
}
