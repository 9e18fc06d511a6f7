package console

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	rec := httptest.NewRecorder()
	t.Handler.ServeHTTP(rec, in)
	res := rec.Result()
	res.Request = req
	return res, nil
}
