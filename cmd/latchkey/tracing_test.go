package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/op"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
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

// The library's spans cost nothing, and never touch a real span around
// them: the context passes on with its parent, and ending the library's
// span leaves the parent recording.
func TestLibrarySpansAreQuiet(t *testing.T) {
	quietLibrarySpans()
	if n := testing.AllocsPerRun(100, func() {
		_, span := op.Tracer.Start(context.Background(), "op.Exchange")
		span.End()
	}); n != 0 {
		t.Errorf("a library span allocates %v times", n)
	}
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, parent := tp.Tracer("test").Start(context.Background(), "HTTP POST")
	inner, span := op.Tracer.Start(ctx, "op.Exchange")
	span.End()
	if !parent.IsRecording() {
		t.Error("ending the library's span ended its parent")
	}
	if got := trace.SpanFromContext(inner).SpanContext(); !got.Equal(parent.SpanContext()) {
		t.Errorf("inside the library's span, the current span is %v, want the parent %v", got, parent.SpanContext())
	}
	parent.End()
}
