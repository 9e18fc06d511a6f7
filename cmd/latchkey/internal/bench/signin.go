package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/oauth2"
)

// Browser obtains refresh tokens the way a person would: the authorization
// code flow with PKCE, typing username and password into the real sign-in
// form (with whatever hidden fields, such as the CSRF token, it carries),
// skipping the "register your recovery methods" prompt, then the code
// exchange. Its cookie jar keeps the single sign-on session, so only the
// first Token call types the password.
type Browser struct {
	hc     *http.Client
	client *http.Client // hc's transport with a cookie jar, stopping at the redirect URI
	final  *url.URL
	prefix string
}

var errArrived = errors.New("redirected to the client")

// NewBrowser returns a browser over hc's transport for a client whose
// redirect URI is redirectURI (never contacted: the code is read from the
// redirect).
func NewBrowser(hc *http.Client, redirectURI string) *Browser {
	jar, _ := cookiejar.New(nil)
	b := &Browser{hc: hc, prefix: redirectURI}
	b.client = &http.Client{
		Transport: hc.Transport,
		Jar:       jar,
		Timeout:   hc.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), b.prefix) {
				b.final = req.URL
				return errArrived
			}
			if len(via) > 10 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
	return b
}

// Token runs one authorization and returns its refresh token.
func (b *Browser) Token(ctx context.Context, ep Endpoints, c Client, username, password string) (string, error) {
	tok, err := b.Sign(ctx, ep, c, username, password)
	if err != nil {
		return "", err
	}
	if tok.RefreshToken == "" {
		return "", errors.New("bench: no refresh token issued (client needs the refresh_token grant)")
	}
	return tok.RefreshToken, nil
}

// Sign runs one authorization (authorize, the sign-in form unless the
// browser's session answers, the code exchange) and returns the tokens.
func (b *Browser) Sign(ctx context.Context, ep Endpoints, c Client, username, password string) (*oauth2.Token, error) {
	b.final = nil
	verifier := oauth2.GenerateVerifier()
	oc := &oauth2.Config{
		ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: b.prefix,
		Endpoint: oauth2.Endpoint{AuthURL: ep.Authorization, TokenURL: ep.Token, AuthStyle: oauth2.AuthStyleInHeader},
		Scopes:   []string{"openid", "offline_access"},
	}
	const state = "bench"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, oc.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), nil)
	if err != nil {
		return nil, err
	}
	resp, err := b.client.Do(req)
	for step := 0; b.final == nil; step++ {
		if err != nil {
			return nil, fmt.Errorf("bench: authorize: %w", err)
		}
		pg, perr := readPage(resp)
		if perr != nil {
			return nil, perr
		}
		if step > 5 {
			return nil, fmt.Errorf("bench: sign-in did not return to the client after 5 pages; the last, %s (HTTP %d): %.200s",
				pg.url.Path, pg.status, strings.Join(strings.Fields(pg.doc.Find("main").Text()), " "))
		}
		form, values, ok := pg.form(`input[name="password"]`)
		if ok {
			values.Set("username", username)
			values.Set("password", password)
		} else if form, values, ok = pg.formAction("/skip"); !ok {
			if form, values, ok = pg.formAction("/continue"); !ok {
				hint := ""
				if strings.Contains(pg.url.Path, "/security-info/register/") {
					hint = " (the policy's registration prompt, past its skips: the bench user's email address counts as a method only when the server sends email, LATCHKEY_SMTP_URL)"
				}
				return nil, fmt.Errorf("bench: stuck at %s (HTTP %d)%s: %.300s", pg.url.Path, pg.status, hint,
					strings.Join(strings.Fields(pg.doc.Find("main").Text()), " "))
			}
		}
		action, _ := form.Attr("action")
		target, perr := pg.url.Parse(action)
		if perr != nil {
			return nil, fmt.Errorf("bench: form action: %w", perr)
		}
		resp, err = b.client.PostForm(target.String(), values)
	}
	if resp != nil {
		_ = resp.Body.Close()
	}
	q := b.final.Query()
	if e := q.Get("error"); e != "" {
		return nil, fmt.Errorf("bench: authorization error %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != state {
		return nil, errors.New("bench: state mismatch")
	}
	tok, err := oc.Exchange(context.WithValue(ctx, oauth2.HTTPClient, b.hc), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("bench: code exchange: %w", err)
	}
	return tok, nil
}

type page struct {
	url    *url.URL
	status int
	doc    *goquery.Document
}

func readPage(resp *http.Response) (page, error) {
	if resp == nil {
		return page{}, errors.New("bench: no response")
	}
	defer resp.Body.Close()
	doc, err := goquery.NewDocumentFromReader(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return page{}, fmt.Errorf("bench: read page: %w", err)
	}
	return page{url: resp.Request.URL, status: resp.StatusCode, doc: doc}, nil
}

// form finds the first form containing sel and returns its fields.
func (p page) form(sel string) (*goquery.Selection, url.Values, bool) {
	f := p.doc.Find("form").FilterFunction(func(_ int, s *goquery.Selection) bool {
		return s.Find(sel).Length() > 0
	}).First()
	return f, fields(f), f.Length() > 0
}

// formAction finds the first POST form whose action ends with suffix.
func (p page) formAction(suffix string) (*goquery.Selection, url.Values, bool) {
	f := p.doc.Find("form").FilterFunction(func(_ int, s *goquery.Selection) bool {
		a, _ := s.Attr("action")
		return strings.HasSuffix(a, suffix)
	}).First()
	return f, fields(f), f.Length() > 0
}

func fields(f *goquery.Selection) url.Values {
	v := url.Values{}
	f.Find("input[name]").Each(func(_ int, s *goquery.Selection) {
		name, _ := s.Attr("name")
		val, _ := s.Attr("value")
		v.Set(name, val)
	})
	return v
}
