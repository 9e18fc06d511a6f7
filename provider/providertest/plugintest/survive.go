package plugintest

import (
	"slices"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/plugin/sender"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/secret"
	"github.com/latchkeyid/latchkey/provider/user"
)

// Filled describes a database that holds every kind of value bound to
// LATCHKEY_SECRET: signing keys, a TOTP seed, an email address (sealed,
// with its keyed destination hash), a queued message and client secrets.
// A backup restored elsewhere, or a rotated secret, must keep them all
// working; Check proves it through the real server.
type Filled struct {
	Users      map[string]string // username -> password
	TOTPSecret string
	Email      string
	QueuedTo   string
	KIDs       []string
}

// The second user, beside providertest's alice.
const (
	BobUsername = "bob"
	BobPassword = "bob's long enough passphrase" // #nosec G101 -- a test user's password
	queuedText  = "queued before the backup or rotation"
)

// Fill starts a server on the empty database at url with secret k,
// registers a TOTP app and an email address for alice, adds bob, queues a
// message that is not delivered yet, and stops the server.
func Fill(t *testing.T, url string, k *secret.Keyring) Filled {
	t.Helper()
	var f Filled
	t.Run("fill", func(t *testing.T) {
		x := Start(t, url, Options{Methods: []string{"totp", "email"}, Keyring: k})
		if _, err := x.Server.Users.Create(t.Context(), user.NewUser{Username: BobUsername, Email: "bob@example.org",
			DisplayName: "Bob", Password: BobPassword}); err != nil {
			t.Fatal(err)
		}
		f.Users = map[string]string{pt.Username: pt.Password, BobUsername: BobPassword}
		f.TOTPSecret = x.EnrollTOTP(t)
		f.Email = "alice.recovery@example.org"
		x.EnrollEmail(t, f.Email)
		f.QueuedTo = "queued@example.org"
		if err := x.Queue.Enqueue(t.Context(), sender.Message{Channel: sender.Email, To: f.QueuedTo,
			Subject: "Queued", Text: queuedText, Kind: "notify"}); err != nil {
			t.Fatal(err)
		}
		f.KIDs = kids(t, x)
		for u, pw := range f.Users {
			SignInAs(t, x, u, pw)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	return f
}

func kids(t *testing.T, x *Env) []string {
	t.Helper()
	list, err := x.Server.Keys.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range list {
		out = append(out, k.KID)
	}
	slices.Sort(out)
	return out
}

// SignInAs signs username in through the web app with the full code flow
// and checks the ID token (its signature against the JWKS included).
func SignInAs(t *testing.T, x *Env, username, password string) *pt.Tokens {
	t.Helper()
	rp := x.Server.NewRP(t, pt.WebClient, pt.WebSecret, pt.WebRedirect)
	b := x.Server.NewBrowser(t)
	a := rp.Start()
	res := b.SignIn(MustPage(t, b.Get(a.URL), "Sign in"), username, password)
	tok, err := rp.Exchange(t.Context(), a, rp.Callback(a, res).Get("code"))
	if err != nil {
		t.Fatalf("%s: token exchange: %v", username, err)
	}
	if tok.IDToken.Subject == "" {
		t.Fatalf("%s: ID token without subject", username)
	}
	return tok
}

// Check starts a server on url (filled by Fill, then restored or
// rotated) with secret k and proves everything Fill stored still works:
// every user signs in with tokens signed by the same keys, the TOTP app's
// code verifies, a code mailed to the registered address verifies, the
// address is still found by its keyed hash, and the queued message is
// delivered.
func (f Filled) Check(t *testing.T, url string, k *secret.Keyring) *Env {
	t.Helper()
	x := Start(t, url, Options{Methods: []string{"totp", "email"}, Keyring: k, Reuse: true})
	// Past the TOTP step Fill used: each server's test clock starts at now.
	x.Server.Clock.Advance(5 * time.Minute)
	ctx := t.Context()
	if got := kids(t, x); !slices.Equal(got, f.KIDs) {
		t.Fatalf("signing keys %v, want the stored %v (a key that does not open is replaced)", got, f.KIDs)
	}
	for u, pw := range f.Users {
		SignInAs(t, x, u, pw)
	}
	// Before any code is mailed: MailCode forgets what it drained.
	x.Drain(t)
	if got := x.Outbox.To(f.QueuedTo); len(got) != 1 {
		t.Fatalf("queued message delivered %d times, want 1", len(got))
	}
	ens, err := x.Store.List(ctx, x.Server.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[method.Name]bool{}
	for _, e := range ens {
		seen[e.Method] = true
		switch e.Method {
		case method.TOTP:
			c, err := x.TOTP.Challenge(ctx, "check", x.Ref(), e)
			if err != nil {
				t.Fatal(err)
			}
			code, _ := totp.Code(f.TOTPSecret, x.Server.Clock.Now())
			if res, err := x.TOTP.Verify(ctx, "check", x.Ref(), e, c, method.Input{"code": code}); err != nil || !res.OK {
				t.Fatalf("TOTP verify: %+v, %v", res, err)
			}
		case method.Email:
			if e.DestinationKey != x.Email.DestinationKey(f.Email) {
				t.Fatal("the email address is no longer found by its keyed hash")
			}
			c, err := x.Email.Challenge(ctx, "check", x.Ref(), e)
			if err != nil {
				t.Fatalf("email challenge: %v", err)
			}
			code := x.MailCode(t, f.Email)
			if res, err := x.Email.Verify(ctx, "check", x.Ref(), e, c, method.Input{"code": code}); err != nil || !res.OK {
				t.Fatalf("email verify: %+v, %v", res, err)
			}
		}
	}
	if !seen[method.TOTP] || !seen[method.Email] {
		t.Fatalf("methods %v, want totp and email", seen)
	}
	return x
}
