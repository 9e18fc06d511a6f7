package provider

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/latchkeyid/latchkey/provider/opstore"
)

// tokenClientAuth authenticates the client of a code or refresh grant
// before the OP library sees the request.
//
// The library redeems an authorization code (AuthRequestByCode, which
// makes it single-use) before it authenticates the client, so anyone who
// saw a confidential client's code in transit could burn it with a missing
// or wrong secret, and the application's own exchange would then fail. And
// for a refresh grant it turns an unknown client_id into a 500. Here every
// code and refresh grant first names a known client, and a confidential
// client proves its secret, else the answer is RFC 6749 §5.2 invalid_client
// (401) and the code is untouched. The library still runs its own checks
// afterwards; repeating the secret check costs one keyed hash.
func (p *Provider) tokenClientAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/token" || r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		if err := r.ParseForm(); err != nil {
			next.ServeHTTP(w, r) // the library reports a malformed form
			return
		}
		switch r.PostForm.Get("grant_type") {
		case string(oidc.GrantTypeCode), string(oidc.GrantTypeRefreshToken):
		default:
			next.ServeHTTP(w, r)
			return
		}
		if r.PostForm.Get("client_assertion_type") != "" || r.PostForm.Get("client_assertion") != "" {
			// Latchkey does not offer private_key_jwt; the library would
			// say so only after redeeming the code.
			writeInvalidClient(w, false, "client authentication by assertion is not supported")
			return
		}
		id, secret, basic := r.BasicAuth()
		if basic {
			if r.PostForm.Has("client_secret") {
				// Two authentication methods at once (RFC 6749 §2.3). The
				// library refuses it only when client_id is in the form too,
				// and otherwise redeems the code first.
				writeOAuthError(w, http.StatusBadRequest, "invalid_request", "client authentication must not use more than one method")
				return
			}
			// RFC 6749 §2.3.1: Basic credentials are form-urlencoded.
			var err1, err2 error
			id, err1 = url.QueryUnescape(id)
			secret, err2 = url.QueryUnescape(secret)
			if err1 != nil || err2 != nil {
				writeInvalidClient(w, true, "malformed basic authentication")
				return
			}
		} else {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		if id == "" {
			writeInvalidClient(w, false, "client_id missing")
			return
		}
		client, err := p.store.GetClientByClientID(r.Context(), id)
		if err != nil {
			if !serverFault(w, r, "client lookup", err) {
				writeInvalidClient(w, basic, "unknown client")
			}
			return
		}
		if client.AuthMethod() == oidc.AuthMethodNone {
			// A public client has no secret: PKCE is its proof, checked
			// before the code is claimed (opstore).
			opstore.NoteTokenClient(r.Context(), id)
			next.ServeHTTP(w, r)
			return
		}
		if err := p.store.AuthorizeClientIDSecret(r.Context(), id, secret); err != nil {
			if !serverFault(w, r, "client authentication", err) {
				writeInvalidClient(w, basic, "invalid client_id / client_secret")
			}
			return
		}
		opstore.NoteTokenClient(r.Context(), id)
		next.ServeHTTP(w, r)
	})
}

// writeInvalidClient answers RFC 6749 §5.2 invalid_client; a client that
// tried Basic authentication is told the scheme (WWW-Authenticate).
func writeInvalidClient(w http.ResponseWriter, basic bool, desc string) {
	if basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
	}
	writeOAuthError(w, http.StatusUnauthorized, "invalid_client", desc)
}

// serverFault answers a storage fault (an *oidc.Error of type server_error:
// the database, not the client) with a 500 and logs it; it reports whether
// it did, so any other error can be answered as the client's.
func serverFault(w http.ResponseWriter, r *http.Request, what string, err error) bool {
	var oe *oidc.Error
	if !errors.As(err, &oe) || oe.ErrorType != oidc.ServerError {
		return false
	}
	slog.ErrorContext(r.Context(), "token: "+what, "err", err)
	writeOAuthError(w, http.StatusInternalServerError, "server_error", "internal error")
	return true
}
