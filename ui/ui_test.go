package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestEveryPageRendersInLayout(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := r.Render(&b, nil, "error", map[string]string{"Title": "Oops", "Message": "<b>x</b>"}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "<title>Oops · Latchkey</title>") || !strings.Contains(out, "&lt;b&gt;x&lt;/b&gt;") {
		t.Fatalf("unexpected page:\n%s", out)
	}
	if err := r.Render(&b, nil, "no-such-page", nil); err == nil {
		t.Fatal("rendering a missing page succeeded")
	}
}

// The page takes the request's language: <html lang dir>, the picker's
// links back to the same page, and translated text.
func TestRenderInRequestLanguage(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ accept, html, picker string }{
		{"", `<html lang="en" dir="ltr">`, `aria-label="Language"`},
		{"de-DE,de;q=0.9", `<html lang="de" dir="ltr">`, `aria-label="Sprache"`},
		{"ar", `<html lang="ar" dir="rtl">`, `aria-label="اللغة"`},
	} {
		req := httptest.NewRequest(http.MethodGet, "/consent?authRequestID=x1", nil)
		req.Header.Set("Accept-Language", tc.accept)
		var b strings.Builder
		if err := r.Render(&b, req, "error", map[string]string{"Title": "t", "Message": "m"}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, want := range []string{tc.html, tc.picker, `href="?authRequestID=x1&amp;lang=ja"`} {
			if !strings.Contains(out, want) {
				t.Errorf("Accept-Language %q: page lacks %s:\n%s", tc.accept, want, out)
			}
		}
	}
}

// Renderings in different languages at once do not mix (each pooled
// template is bound to one request at a time).
func TestRenderConcurrentLanguages(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 40 {
		lang := []string{"de", "ja", "fr", "ar"}[i%4]
		wg.Go(func() {
			req := httptest.NewRequest(http.MethodGet, "/?lang="+lang, nil)
			var b strings.Builder
			if err := r.Render(&b, req, "error", map[string]string{"Title": "t"}); err != nil {
				t.Error(err)
				return
			}
			if !strings.Contains(b.String(), `<html lang="`+lang+`"`) {
				t.Errorf("a %s page came out in another language", lang)
			}
		})
	}
	wg.Wait()
}
