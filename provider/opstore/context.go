package opstore

import (
	"context"
	"net/http"
	"sync"

	"github.com/latchkeyid/latchkey/provider/user"
)

// clientScope is a per-request holder: the storage notes the client it
// authenticated or loaded, and SigningKey reads it later in the same
// request. The library gives SigningKey nothing but the context.
type clientScope struct {
	mu sync.Mutex
	id string
	// verifier: the request carries a PKCE code_verifier (see
	// AuthRequestByCode).
	verifier bool
	// codeVerifier is that verifier, and tokenClient the client the token
	// request was authenticated as (NoteTokenClient): a code is claimed
	// only by a request that its client and its PKCE challenge accept.
	codeVerifier string
	tokenClient  string
	// form: the holder was filled from a POSTed form by Interceptor.
	form bool
	// user: the user this request loaded (a token request checks the
	// grant's user, then fills the ID token's claims from it: one read).
	user *user.User
}

// recallUser returns the user with id that the request in ctx loaded
// already, or nil.
func recallUser(ctx context.Context, id string) *user.User {
	if sc, ok := ctx.Value(scopeKey{}).(*clientScope); ok {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		if sc.user != nil && sc.user.ID == id {
			return sc.user
		}
	}
	return nil
}

func rememberUser(ctx context.Context, u *user.User) {
	if sc, ok := ctx.Value(scopeKey{}).(*clientScope); ok {
		sc.mu.Lock()
		sc.user = u
		sc.mu.Unlock()
	}
}

type scopeKey struct{}

// WithClientID returns ctx carrying a client holder preset to id (may be
// ""). Storage calls made with the result (or a context derived from it)
// that load a client update the holder.
func WithClientID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, scopeKey{}, &clientScope{id: id})
}

// Interceptor gives every OP request an empty client holder. Install it
// with op.WithHttpInterceptors so ID tokens are signed with each client's
// configured algorithm.
//
// It also notes whether a token request carries a code_verifier: RFC 9700
// §4.8.2 requires refusing one for a code issued without a challenge (a
// PKCE downgrade), and the library answers that case with invalid_request
// only after the code was accepted; the storage refuses the code itself.
func Interceptor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc := &clientScope{}
		if r.Method == http.MethodPost {
			// The library parses the same form next; errors are its to report.
			_ = r.ParseForm()
			sc.form = true
			sc.codeVerifier = r.PostForm.Get("code_verifier")
			sc.verifier = sc.codeVerifier != ""
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), scopeKey{}, sc)))
	})
}

func hasVerifier(ctx context.Context) bool {
	if sc, ok := ctx.Value(scopeKey{}).(*clientScope); ok {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		return sc.verifier
	}
	return false
}

func noteClient(ctx context.Context, id string) {
	if sc, ok := ctx.Value(scopeKey{}).(*clientScope); ok {
		sc.mu.Lock()
		sc.id = id
		sc.mu.Unlock()
	}
}

func clientIDFrom(ctx context.Context) string {
	if sc, ok := ctx.Value(scopeKey{}).(*clientScope); ok {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		return sc.id
	}
	return ""
}

// NoteTokenClient records, for the rest of the token request in ctx, the
// client it was authenticated as (a confidential client that proved its
// secret) or, for a public client, the client_id it names. A code of
// another client is then refused without being claimed: the library
// redeems the code before it compares clients, and an exchange by the
// wrong client must not burn the right client's code.
func NoteTokenClient(ctx context.Context, id string) {
	if sc, ok := ctx.Value(scopeKey{}).(*clientScope); ok {
		sc.mu.Lock()
		sc.tokenClient = id
		sc.mu.Unlock()
	}
}

// tokenRequest returns what the token request in ctx says about itself;
// form is false outside an HTTP token request (a direct storage call).
func tokenRequest(ctx context.Context) (client, codeVerifier string, form bool) {
	if sc, ok := ctx.Value(scopeKey{}).(*clientScope); ok {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		return sc.tokenClient, sc.codeVerifier, sc.form
	}
	return "", "", false
}
