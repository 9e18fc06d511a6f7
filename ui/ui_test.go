package ui

import (
	"strings"
	"testing"
)

func TestEveryPageRendersInLayout(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := r.Render(&b, "error", map[string]string{"Title": "Oops", "Message": "<b>x</b>"}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "<title>Oops · Latchkey</title>") || !strings.Contains(out, "&lt;b&gt;x&lt;/b&gt;") {
		t.Fatalf("unexpected page:\n%s", out)
	}
	if err := r.Render(&b, "no-such-page", nil); err == nil {
		t.Fatal("rendering a missing page succeeded")
	}
}
