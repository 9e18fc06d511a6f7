package providertest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// PostForm posts form to path on the server with optional Basic client
// credentials and returns the status and decoded JSON body.
func (s *Server) PostForm(t testing.TB, path, clientID, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	return s.PostFormVia(t, s.HTTP.Client(), path, clientID, secret, form)
}

// PostFormVia is PostForm through hc (e.g. a client that reaches one
// instance of several).
func (s *Server) PostFormVia(t testing.TB, hc *http.Client, path, clientID, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if clientID != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	m := map[string]any{}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &m)
	}
	return res.StatusCode, m
}

// Introspect asks whether token is active, as clientID.
func (s *Server) Introspect(t testing.TB, clientID, secret, token string) (active bool, claims map[string]any) {
	t.Helper()
	code, m := s.PostForm(t, "/oauth/introspect", clientID, secret, url.Values{"token": {token}})
	if code != http.StatusOK {
		t.Fatalf("introspect: status %d %v", code, m)
	}
	a, _ := m["active"].(bool)
	return a, m
}

// Revoke revokes token as clientID.
func (s *Server) Revoke(t testing.TB, clientID, secret, token, hint string) int {
	t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	code, _ := s.PostForm(t, "/revoke", clientID, secret, form)
	return code
}

// Refresh redeems a refresh token as clientID and returns the response.
func (s *Server) Refresh(t testing.TB, clientID, secret, refreshToken string) (int, map[string]any) {
	t.Helper()
	return s.PostForm(t, "/oauth/token", clientID, secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
}
