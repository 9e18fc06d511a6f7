package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
)

// Transport is an http.RoundTripper that serves every request for the
// issuer's origin with the issuer's own handler, in-process: the console's
// back-channel calls (discovery, token, revocation, the admin API) never
// leave the process, so they work whatever the public URL resolves to.
type Transport struct {
	Origin  *url.URL     // scheme and host of the issuer
	Handler http.Handler // the issuer's Echo
}

// fromKey carries the browser request a back-channel call is made for.
type fromKey struct{}

// withBrowser lets the calls made with ctx carry the browser's address,
// so the admin API audits and rate-limits the admin's IP, not the
// loopback.
func withBrowser(ctx context.Context, r *http.Request) context.Context {
	return context.WithValue(ctx, fromKey{}, r)
}

var errOtherOrigin = errors.New("console: back-channel call to another origin")

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != t.Origin.Scheme || req.URL.Host != t.Origin.Host {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, errOtherOrigin
	}
	in := req.Clone(req.Context())
	in.RequestURI = req.URL.RequestURI()
	in.Host = req.URL.Host
	in.RemoteAddr = "127.0.0.1:0"
	if in.Body == nil {
		in.Body = http.NoBody // as a server request always has one
	}
	if from, ok := req.Context().Value(fromKey{}).(*http.Request); ok {
		in.RemoteAddr = from.RemoteAddr
		for _, h := range []string{"X-Forwarded-For", "X-Real-Ip", "User-Agent", "X-Request-Id"} {
			if v := from.Header.Get(h); v != "" {
				in.Header.Set(h, v)
			}
		}
	}
	return serve(t.Handler, in, req), nil
}

// serve runs h for in on its own goroutine and returns the response as
// soon as h has written its header: the body streams through a pipe, so
// a long answer (an audit export) is never held whole in memory.
func serve(h http.Handler, in, req *http.Request) *http.Response {
	body, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, body: pw, ready: make(chan *http.Response, 1),
		res: &http.Response{Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Body: body, Request: req, ContentLength: -1}}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				w.WriteHeader(http.StatusInternalServerError)
				_ = pw.CloseWithError(fmt.Errorf("console: in-process handler panicked: %v", p))
				return
			}
			w.WriteHeader(http.StatusOK) // a handler that wrote nothing
			_ = pw.Close()
		}()
		h.ServeHTTP(w, in)
	}()
	return <-w.ready
}

// pipeWriter is the http.ResponseWriter of an in-process request: the
// header goes out once, on the first WriteHeader or Write, and the body
// into the pipe the caller reads.
type pipeWriter struct {
	header http.Header
	body   *io.PipeWriter
	res    *http.Response
	ready  chan *http.Response
	once   sync.Once
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(status int) {
	if status >= 100 && status < 200 {
		return // informational answers are not the response
	}
	w.once.Do(func() {
		w.res.StatusCode, w.res.Status = status, fmt.Sprintf("%d %s", status, http.StatusText(status))
		w.res.Header = w.header.Clone()
		w.ready <- w.res
	})
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// Flush lets streaming handlers flush; the pipe hands every write over at
// once anyway.
func (w *pipeWriter) Flush() {}
