package ui

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/latchkeyid/latchkey/ui/i18n"
)

// pendingPages may still carry English of their own: a page a helper has
// not moved to catalogs yet. The test reports them without failing; the
// list is empty now and should stay so.
var pendingPages []string

// pageCase is a page with realistic data, built for a language the way its
// handler builds it (Go-side texts already translated).
type pageCase struct {
	page, name string
	data       func(l *i18n.Localizer) any
}

// pageCases hold every page's realistic data. Each area may add its own
// from a file of its own (pages_<area>_test.go, in an init func).
var pageCases = []pageCase{
	{"login", "plain", func(*i18n.Localizer) any {
		return map[string]any{"CSRF": "tok", "Username": "", "RecoverURL": "/recover", "ForgotURL": "/recover?reason=forgot"}
	}},
	{"login", "app-and-error", func(l *i18n.Localizer) any {
		return map[string]any{"CSRF": "tok", "AuthRequestID": "ar1", "ClientName": "Acme Portal", "Username": "alice",
			"Error": l.T("signin.error.wrong_credentials"), "RecoverURL": "/recover", "ForgotURL": "/recover?reason=forgot"}
	}},
	{"login", "locked", func(*i18n.Localizer) any {
		return map[string]any{"CSRF": "tok", "Username": "alice", "Locked": true,
			"LockedUntil": time.Date(2026, 3, 2, 14, 5, 0, 0, time.UTC), "UnlockURL": "/recover?reason=unlock"}
	}},
	{"consent", "scopes", func(l *i18n.Localizer) any {
		return map[string]any{"CSRF": "tok", "AuthRequestID": "ar1", "ClientName": "Acme Portal", "Username": "alice",
			"Scopes": []string{l.T("signin.scope.openid"), l.T("signin.scope.profile"), l.T("signin.scope.email"),
				l.T("signin.scope.phone"), l.T("signin.scope.address"), l.T("signin.scope.offline_access"),
				l.T("signin.scope.groups"), l.T("signin.scope.other", "Scope", "billing:read")}}
	}},
	{"logout", "with-return", func(*i18n.Localizer) any {
		return map[string]any{"Continue": "https://app.example/"}
	}},
	{"signedin", "since", func(*i18n.Localizer) any {
		return map[string]any{"CSRF": "tok", "DisplayName": "Alice Martin", "Username": "alice",
			"Since": time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)}
	}},
	{"dev-outbox", "messages", func(*i18n.Localizer) any {
		type rec struct {
			Subject, To, Channel, Text string
			At                         time.Time
		}
		return map[string]any{"Messages": []rec{{Subject: "Code 123456", To: "alice@example.net", Channel: "email",
			Text: "123456", At: time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)}}}
	}},
	{"dev-outbox", "empty", func(*i18n.Localizer) any { return map[string]any{} }},
}

func init() {
	// Every error page the code can show: each title with each message of
	// the errors catalog.
	titles := []string{"errors.not_found.title", "errors.method.title", "errors.too_large.title",
		"errors.slow_down.title", "errors.refused.title", "errors.internal.title", "errors.form_expired.title",
		"errors.unknown_host.title", "errors.gone.title", "errors.not_continuable.title",
		"errors.other_browser.title", "errors.unsupported_flow.title", "errors.bad_logout.title",
		"errors.unknown_app.title", "errors.bad_request.title"}
	msgs := []string{"errors.not_found.message", "errors.method.message", "errors.too_large.message",
		"errors.slow_down.message", "errors.refused.message", "errors.bad_form.message", "errors.internal.message",
		"errors.form_expired.message", "errors.cross_site.message", "errors.unknown_host.message",
		"errors.gone.message", "errors.other_browser.message", "errors.unsupported_flow.message",
		"errors.bad_logout.message", "errors.unknown_app.message", "errors.bad_request.message"}
	for i := range max(len(titles), len(msgs)) {
		title, msg := titles[i%len(titles)], msgs[i%len(msgs)]
		pageCases = append(pageCases, pageCase{"error", msg, func(l *i18n.Localizer) any {
			return map[string]string{"Title": l.T(title), "Message": l.T(msg), "Link": "/", "LinkText": ""}
		}})
	}
}

// allowed may stay in any language: the brand, the authenticator app's
// product name, zone names, the languages' own names in the picker.
func allowed() []string {
	a := []string{"Latchkey Authenticator", "Latchkey", "UTC"}
	for _, l := range i18n.Languages() {
		a = append(a, l.Name)
	}
	return a
}

// dataStrings are the values a page shows from its data (names, codes,
// addresses): they stay as they are.
func dataStrings(v reflect.Value, out *[]string) {
	switch v.Kind() {
	case reflect.String:
		if s := v.String(); s != "" {
			*out = append(*out, s)
		}
	case reflect.Interface, reflect.Pointer:
		if !v.IsNil() {
			dataStrings(v.Elem(), out)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			dataStrings(v.MapIndex(k), out)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			dataStrings(v.Index(i), out)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				dataStrings(v.Field(i), out)
			}
		}
	}
}

var latinWord = regexp.MustCompile(`[A-Za-z]{3,}`)

// texts are what a person reads or hears on the page: text nodes, the
// title, and the attributes screen readers announce.
func texts(t *testing.T, html string) []string {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	add := func(s string) {
		if s = strings.Join(strings.Fields(s), " "); s != "" {
			out = append(out, s)
		}
	}
	doc.Find("script, style").Remove()
	doc.Find("title, body *").Each(func(_ int, s *goquery.Selection) {
		for _, n := range s.Nodes {
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == 1 { // text node
					add(c.Data)
				}
			}
		}
		for _, a := range []string{"aria-label", "placeholder", "title", "alt", "aria-description"} {
			if v, ok := s.Attr(a); ok {
				add(v)
			}
		}
		if s.Is(`input[type="submit"], input[type="button"]`) {
			add(s.AttrOr("value", ""))
		}
	})
	return out
}

// Every page, rendered in every language but English through the same
// renderer the handlers use, leaves no English behind: no text that reads
// as on the English page, and in Japanese and Arabic no Latin word, apart
// from the page's data (names, codes, addresses) and the brand.
func TestEveryPageTranslated(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	covered := map[string]bool{}
	problems := map[string][]string{} // page → what is left
	for _, pc := range pageCases {
		covered[pc.page] = true
	}
	var cases []pageCase
	cases = append(cases, pageCases...)
	for _, name := range slices.Sorted(maps.Keys(r.pages)) {
		if !covered[name] {
			cases = append(cases, pageCase{name, "no data", func(*i18n.Localizer) any { return map[string]any{} }})
		}
	}
	render := func(pc pageCase, lang string) (string, []string, error) {
		l, _ := i18n.For(lang)
		req := httptest.NewRequest(http.MethodGet, "/page?lang="+lang, nil)
		data := pc.data(l)
		var b strings.Builder
		err := r.Render(&b, req, pc.page, data)
		var ds []string
		dataStrings(reflect.ValueOf(data), &ds)
		return b.String(), ds, err
	}
	for _, pc := range cases {
		en, _, err := render(pc, "en")
		if err != nil {
			problems[pc.page] = append(problems[pc.page], pc.name+": does not render: "+err.Error())
			continue
		}
		english := map[string]bool{}
		for _, s := range texts(t, en) {
			english[s] = true
		}
		for _, lang := range []string{"de", "fr", "es", "ja", "ar"} {
			out, ds, err := render(pc, lang)
			if err != nil {
				problems[pc.page] = append(problems[pc.page], pc.name+"/"+lang+": "+err.Error())
				continue
			}
			if !strings.Contains(out, `<html lang="`+lang+`"`) {
				problems[pc.page] = append(problems[pc.page], pc.name+"/"+lang+": <html lang> is not "+lang)
			}
			keep := append(allowed(), ds...)
			sort.Slice(keep, func(i, j int) bool { return len(keep[i]) > len(keep[j]) })
			for _, s := range texts(t, out) {
				rest := s
				for _, k := range keep {
					rest = strings.ReplaceAll(rest, k, " ")
				}
				if !latinWord.MatchString(rest) {
					continue
				}
				if english[s] || lang == "ja" || lang == "ar" {
					problems[pc.page] = append(problems[pc.page], pc.name+"/"+lang+": "+strings.TrimSpace(rest))
				}
			}
		}
	}
	var failed []string
	for _, page := range slices.Sorted(maps.Keys(problems)) {
		ps := slices.Compact(problems[page])
		msg := page + ":\n    " + strings.Join(ps[:min(len(ps), 8)], "\n    ")
		if len(ps) > 8 {
			msg += fmt.Sprintf("\n    … and %d more", len(ps)-8)
		}
		if slices.Contains(pendingPages, page) {
			t.Logf("pending (English left, to be moved to catalogs): %s", msg)
			continue
		}
		failed = append(failed, msg)
	}
	for _, page := range pendingPages {
		if _, ok := problems[page]; !ok && covered[page] {
			failed = append(failed, page+": translated now; remove it from pendingPages")
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d pages still show English:\n%s", len(failed), strings.Join(failed, "\n"))
	}
}
