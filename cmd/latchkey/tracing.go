package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// tracing wraps h in OpenTelemetry's HTTP instrumentation exporting to an
// OTLP/HTTP collector, when the configuration turns tracing on; otherwise
// h is returned as it is and nothing of OpenTelemetry runs. The tracer
// provider is the server's own, not the process global, so tests that run
// several servers in one process do not mix their spans. The returned stop
// flushes what is still batched.
func (s *server) tracing(h http.Handler) (http.Handler, func(context.Context), error) {
	quietLibrarySpans()
	cfg := s.a.cfg
	if !cfg.TracingOn() {
		return h, func(context.Context) {}, nil
	}
	var opts []otlptracehttp.Option
	if cfg.OTelEndpoint != "" {
		// The base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it: the
		// exporter adds /v1/traces.
		opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimSuffix(cfg.OTelEndpoint, "/")+"/v1/traces"))
	}
	exp, err := otlptracehttp.New(s.a.ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: %w", err)
	}
	res := resource.NewSchemaless(semconv.ServiceName("latchkey"), semconv.ServiceVersion(buildVersion()))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)), sdktrace.WithResource(res))
	s.log.Info("tracing on", "exporter", "otlp/http")
	wrapped := otelhttp.NewHandler(restorePath(h), "latchkey",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		// A span is named by method only: the raw path of a recovery
		// link or flow would make every span name unique.
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "HTTP " + r.Method }),
	)
	stop := func(ctx context.Context) {
		if err := tp.Shutdown(ctx); err != nil {
			s.log.Warn("tracing: flush at shutdown", "err", err)
		}
	}
	return hidePath(wrapped), stop, nil
}

type pathKey struct{}

// hidePath shows the instrumentation a path whose long segments (flow ids,
// report-link tokens: bearer values) are replaced by ":id", so spans, which
// record url.path, do not carry them; restorePath, inside, gives the
// handler the real one back.
func hidePath(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		segs := strings.Split(r.URL.Path, "/")
		for i, seg := range segs {
			if len(seg) > 16 {
				segs[i] = ":id"
			}
		}
		r2 := r.WithContext(context.WithValue(r.Context(), pathKey{}, r.URL))
		u := *r.URL
		u.Path, u.RawPath = strings.Join(segs, "/"), ""
		r2.URL = &u
		h.ServeHTTP(w, r2)
	})
}

func restorePath(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := r.Context().Value(pathKey{}).(*url.URL); ok {
			r = r.WithContext(r.Context())
			r.URL = u
		}
		h.ServeHTTP(w, r)
	})
}

// quietLibrarySpans gives the OIDC library a tracer that starts nothing.
// Its spans came from OpenTelemetry's global provider, which this binary
// never sets, so they were never recorded; yet each of its several spans
// per request allocated a span and a context (a tenth of a token request's
// allocations). The plugin leaves the library alone: a host app may well
// record its spans.
var quietLibrarySpans = sync.OnceFunc(func() { op.Tracer = quietTracer{} })

// quietTracer's spans are the no-op span; the context passes on unchanged,
// so spans started inside it keep their real parent, and ending one never
// ends that parent.
type quietTracer struct{ embedded.Tracer }

var noSpan = trace.SpanFromContext(context.Background())

func (quietTracer) Start(ctx context.Context, _ string, _ ...trace.SpanStartOption) (context.Context, trace.Span) {
	return ctx, noSpan
}
