package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Get fetches u and wants a 200 (discovery, JWKS).
func Get(hc *http.Client, u string) Work {
	return func(ctx context.Context, _ int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		_, err = do(hc, req)
		return err
	}
}

// ClientCredentials asks the token endpoint for a client_credentials token.
func ClientCredentials(hc *http.Client, c Client) Work {
	form := url.Values{"grant_type": {"client_credentials"}}.Encode()
	return func(ctx context.Context, _ int) error {
		_, err := post(ctx, hc, c, c.TokenURL, form)
		return err
	}
}

// Token returns one client_credentials access token.
func Token(ctx context.Context, hc *http.Client, c Client) (string, error) {
	body, err := post(ctx, hc, c, c.TokenURL, url.Values{"grant_type": {"client_credentials"}}.Encode())
	if err != nil {
		return "", fmt.Errorf("bench: client_credentials: %w", err)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return "", errors.New("bench: client_credentials: response without an access_token")
	}
	return tr.AccessToken, nil
}

// RefreshToken runs one rotation chain per starting token (worker w owns
// tokens[w]): each request presents the refresh token the previous one
// returned, as a real client must (reuse would revoke the family). A broken
// chain stops its worker.
func RefreshToken(hc *http.Client, c Client, tokens []string) Work {
	chains := slices.Clone(tokens)
	return func(ctx context.Context, w int) error {
		if chains[w] == "" {
			return ErrDone
		}
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {chains[w]}}.Encode()
		// Not cut off by the time bound: a rotation whose answer is lost
		// would break the chain for the next run.
		body, err := post(context.WithoutCancel(ctx), hc, c, c.TokenURL, form)
		if err != nil {
			chains[w] = ""
			return err
		}
		var tr struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.Unmarshal(body, &tr); err != nil || tr.RefreshToken == "" {
			chains[w] = ""
			return errors.New("response without a new refresh_token")
		}
		chains[w] = tr.RefreshToken
		return nil
	}
}

// Introspect asks the introspection endpoint about token as client c, and
// wants it active.
func Introspect(hc *http.Client, c Client, endpoint, token string) Work {
	form := url.Values{"token": {token}}.Encode()
	return func(ctx context.Context, _ int) error {
		body, err := post(ctx, hc, c, endpoint, form)
		if err != nil {
			return err
		}
		var r struct {
			Active bool `json:"active"`
		}
		if err := json.Unmarshal(body, &r); err != nil || !r.Active {
			return fmt.Errorf("token not active: %.200s", body)
		}
		return nil
	}
}

// Userinfo fetches the userinfo endpoint with a bearer access token.
func Userinfo(hc *http.Client, endpoint, accessToken string) Work {
	return func(ctx context.Context, _ int) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+accessToken)
		_, err = do(hc, req)
		return err
	}
}

// SignIn runs whole sign-ins, each in a fresh browser (no single sign-on):
// authorize with PKCE, the sign-in form with the password, the code, the
// code exchange. Worker w signs in as usernames[w % len(usernames)]: a storm
// is many people signing in once, while many parallel attempts on one
// account are what the lockout's per-account reservations hold back.
func SignIn(hc *http.Client, ep Endpoints, c Client, redirectURI string, usernames []string, password string) Work {
	return func(ctx context.Context, w int) error {
		_, err := NewBrowser(hc, redirectURI).Sign(context.WithoutCancel(ctx), ep, c, usernames[w%len(usernames)], password)
		return err
	}
}

func post(ctx context.Context, hc *http.Client, c Client, endpoint, form string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	return do(hc, req)
}

func do(hc *http.Client, req *http.Request) ([]byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
	}
	return body, nil
}
