package admin

import (
	"net/http"
	"testing"
)

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		header, want string
		ok           bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER  abc ", "abc", true},
		{"Basic abc", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"", "", false},
	} {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", tc.header)
		if got, ok := bearerToken(r); got != tc.want || ok != tc.ok {
			t.Errorf("%q: %q %v, want %q %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, id := range []string{"a", "web.app-1", "ünïcode"} {
		if got, ok := decodeCursor(encodeCursor(id)); !ok || got != id {
			t.Errorf("%q came back as %q %v", id, got, ok)
		}
	}
	for _, bad := range []string{"!!", "YQ", "eDpmb28", encodeCursor(string(make([]byte, 200)))} {
		if _, ok := decodeCursor(bad); ok {
			t.Errorf("cursor %q accepted", bad)
		}
	}
}

func TestSamePath(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"/apps/{id}", "/apps/wiki", true},
		{"/apps/{id}", "/apps/", false},
		{"/apps/{id}", "/apps/wiki/secret", false},
		{"/apps/{id}/secret", "/apps/wiki/secret", true},
		{"/apps", "/apps", true},
		{"/apps", "/users", false},
	} {
		if got := samePath(tc.pattern, tc.path); got != tc.want {
			t.Errorf("samePath(%q, %q) = %v", tc.pattern, tc.path, got)
		}
	}
}
