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

// SignIn obtains a refresh token the way a browser user would: the
// authorization code flow with PKCE, typing username and password into the
// real sign-in form (whatever hidden fields, such as the CSRF token, it
// carries), then the code exchange. redirectURI is never contacted: the
// code is read from the redirect.
func SignIn(ctx context.Context, hc *http.Client, ep Endpoints, c Client, redirectURI, username, password string) (string, error) {
	jar, _ := cookiejar.New(nil)
	done := errors.New("redirected to the client")
	var final *url.URL
	browser := &http.Client{
		Transport: hc.Transport,
		Jar:       jar,
		Timeout:   hc.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), redirectURI) {
				final = req.URL
				return done
			}
			if len(via) > 10 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
	verifier := oauth2.GenerateVerifier()
	oc := &oauth2.Config{
		ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: redirectURI,
		Endpoint: oauth2.Endpoint{AuthURL: ep.Authorization, TokenURL: ep.Token, AuthStyle: oauth2.AuthStyleInHeader},
		Scopes:   []string{"openid", "offline_access"},
	}
	state := "bench"
	resp, err := browser.Get(oc.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		return "", fmt.Errorf("bench: authorize: %w", err)
	}
	page, err := readPage(resp)
	if err != nil {
		return "", err
	}
	form := page.doc.Find("form").FilterFunction(func(_ int, s *goquery.Selection) bool {
		return s.Find(`input[name="password"]`).Length() > 0
	}).First()
	if form.Length() == 0 {
		return "", fmt.Errorf("bench: no sign-in form at %s (HTTP %d)", page.url, page.status)
	}
	values := url.Values{}
	form.Find("input[name]").Each(func(_ int, s *goquery.Selection) {
		name, _ := s.Attr("name")
		v, _ := s.Attr("value")
		values.Set(name, v)
	})
	values.Set("username", username)
	values.Set("password", password)
	action, _ := form.Attr("action")
	target, err := page.url.Parse(action)
	if err != nil {
		return "", fmt.Errorf("bench: form action: %w", err)
	}
	resp, err = browser.PostForm(target.String(), values)
	if err != nil && final == nil {
		return "", fmt.Errorf("bench: sign in: %w", err)
	}
	if resp != nil {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if final == nil {
			return "", fmt.Errorf("bench: sign-in did not return to the client (HTTP %d): %.300s", resp.StatusCode, body)
		}
	}
	q := final.Query()
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("bench: authorization error %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != state {
		return "", errors.New("bench: state mismatch")
	}
	tok, err := oc.Exchange(context.WithValue(ctx, oauth2.HTTPClient, hc), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return "", fmt.Errorf("bench: code exchange: %w", err)
	}
	if tok.RefreshToken == "" {
		return "", errors.New("bench: no refresh token issued (client needs the refresh_token grant)")
	}
	return tok.RefreshToken, nil
}

type page struct {
	url    *url.URL
	status int
	doc    *goquery.Document
}

func readPage(resp *http.Response) (page, error) {
	defer resp.Body.Close()
	doc, err := goquery.NewDocumentFromReader(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return page{}, fmt.Errorf("bench: read page: %w", err)
	}
	return page{url: resp.Request.URL, status: resp.StatusCode, doc: doc}, nil
}
