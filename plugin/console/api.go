package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/latchkeyid/latchkey/plugin/admin"
	"github.com/latchkeyid/latchkey/provider/web"
)

// api calls the admin API in-process with the admin's own token: the
// console has no other way to change anything.
type api struct {
	base string
	http *http.Client
}

// call is one API request. idem, for writes, is the form's
// Idempotency-Key: a form sent twice does its work once.
type call struct {
	method, path, idem string
	in, out            any
	// missing is the page for a 404 (errNoSuchApp when nil).
	missing error
	// ifMatch is sent as If-Match; etag, when set, receives the answer's
	// ETag; raw, when set, receives the body as it came (an SVG chart).
	ifMatch string
	etag    *string
	raw     *[]byte
}

// problems are an API refusal as the form shows it: the detail, and each
// field's messages.
type problems struct {
	Detail string
	Fields map[string][]string
	Other  []string // problems of no field, or of one the form does not show
	// Stale: the change was based on a version someone else replaced.
	Stale bool
}

// do runs c. A refusal the form can show returns problems; an expired or
// revoked token, or a demoted admin, returns errSignInAgain or
// errNotAdmin; anything else is an error.
func (a *api) do(ctx context.Context, s *session, c call) (*problems, error) {
	res, err := a.send(ctx, s, c)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	return c.answer(res)
}

// send makes c's request with the admin's token.
func (a *api) send(ctx context.Context, s *session, c call) (*http.Response, error) {
	var body io.Reader
	if c.in != nil {
		b, err := json.Marshal(c.in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, a.base+c.path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("Accept", "application/json")
	if c.in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.idem != "" {
		req.Header.Set("Idempotency-Key", c.idem)
	}
	if c.ifMatch != "" {
		req.Header.Set("If-Match", c.ifMatch)
	}
	res, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("console: %s %s: %w", c.method, c.path, err)
	}
	return res, nil
}

// answer reads res as do returns it.
func (c call) answer(res *http.Response) (*problems, error) {
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	switch {
	case res.StatusCode < 300:
		if c.etag != nil {
			*c.etag = res.Header.Get("ETag")
		}
		if c.raw != nil {
			*c.raw = raw
			return nil, nil
		}
		if c.out != nil && len(raw) > 0 {
			return nil, json.Unmarshal(raw, c.out)
		}
		return nil, nil
	case res.StatusCode == http.StatusUnauthorized:
		return nil, errSignInAgain
	case res.StatusCode == http.StatusForbidden:
		return nil, errNotAdmin
	case res.StatusCode == http.StatusNotFound && c.missing != nil:
		return nil, c.missing
	case res.StatusCode == http.StatusNotFound:
		return nil, errNoSuchApp
	case res.StatusCode == http.StatusTooManyRequests:
		return nil, &web.PageError{Status: http.StatusTooManyRequests, Title: "errors.slow_down.title", Message: "errors.slow_down.message"}
	case res.StatusCode >= 500:
		return nil, fmt.Errorf("console: %s %s: status %d", c.method, c.path, res.StatusCode)
	}
	var p admin.Problem
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("console: %s %s: status %d, no problem document", c.method, c.path, res.StatusCode)
	}
	out := &problems{Detail: p.Detail, Fields: map[string][]string{}, Stale: res.StatusCode == http.StatusPreconditionFailed}
	for _, e := range p.Errors {
		out.Fields[e.Field] = append(out.Fields[e.Field], e.Message)
	}
	return out, nil
}

// claim moves the messages of fields the form does not show to Other, so
// every problem is on the page.
func (p *problems) claim(shown ...string) *problems {
	if p == nil {
		return nil
	}
	known := map[string]bool{}
	for _, f := range shown {
		known[f] = true
	}
	for f, msgs := range p.Fields {
		if !known[f] {
			p.Other = append(p.Other, msgs...)
			delete(p.Fields, f)
		}
	}
	return p
}

// Of is the messages of one field (nil-safe, for the templates).
func (p *problems) Of(field string) []string {
	if p == nil {
		return nil
	}
	return p.Fields[field]
}

func appPath(id string) string { return "/apps/" + url.PathEscape(id) }

// errSignInAgain: the API no longer takes the session's token (expired,
// revoked, or the sign-in too old): the gate sends the browser to sign in.
var errSignInAgain = &web.PageError{Status: http.StatusUnauthorized, Title: "console.error.signin_title",
	Message: "console.error.stale", Link: Path, LinkText: "console.error.signin_again"}

var errNoSuchApp = &web.PageError{Status: http.StatusNotFound, Title: "console.error.no_app_title",
	Message: "console.error.no_app", Link: Path + "/apps", LinkText: "console.nav.apps"}

// stream passes a GET's answer through to w (the audit export): its type
// and file name, then its body. A refusal is returned as do returns it.
func (a *api) stream(ctx context.Context, s *session, path string, w http.ResponseWriter) (*problems, error) {
	c := call{method: http.MethodGet, path: path}
	res, err := a.send(ctx, s, c)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return c.answer(res)
	}
	for _, h := range []string{"Content-Type", "Content-Disposition"} {
		w.Header().Set(h, res.Header.Get(h))
	}
	w.WriteHeader(http.StatusOK)
	_, err = io.Copy(w, res.Body)
	return nil, err
}
