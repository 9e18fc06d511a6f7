package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestTracingHidesBearerPathSegments: the instrumentation, which records
// url.path in every span, sees a recovery flow's id as ":id", while the
// application still gets the real path.
func TestTracingHidesBearerPathSegments(t *testing.T) {
	tests := []struct {
		name, path, traced string
	}{
		{"flow-id", "/recover/01JABCDEFGHJKMNPQRSTVWXYZ0/verify", "/recover/:id/verify"},
		{"report-token", "/recover/report/Zm9vYmFyYmF6cXV4cXV1eA", "/recover/report/:id"},
		{"plain-route", "/oauth/token", "/oauth/token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var traced, served string
			app := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { served = r.URL.Path })
			instrumentation := func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					traced = r.URL.Path
					h.ServeHTTP(w, r)
				})
			}
			hidePath(instrumentation(restorePath(app))).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", tt.path, nil))
			if traced != tt.traced || served != tt.path {
				t.Fatalf("traced %q (want %q), served %q (want %q)", traced, tt.traced, served, tt.path)
			}
		})
	}
}
