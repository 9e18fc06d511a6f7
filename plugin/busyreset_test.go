package plugin_test

import (
	"context"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/password"
)

// TestResetWhileHasherBusy: a new password sent while every hashing slot
// is taken (and the wait queue is full) is answered 503 with Retry-After
// and the form again, never a 500; the proven flow survives, so pressing
// the button once more, when the hasher is free, resets the password.
func TestResetWhileHasherBusy(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		h := password.NewHasher(password.Params{Memory: 1024, Time: 1, Threads: 1}, password.WithSlots(1), password.WithQueue(0))
		e := newEnvHasher(t, dbURL, nil, h)
		u := e.user("alice", false)
		e.enrollEmail(u, "alice.private@example.org")
		b := e.browser()
		fp := b.start("alice", boundRequest)
		b.post(fp, url.Values{"intent": {"reset"}})
		b.choose(fp, "a•••e@example.org")
		e.drain()
		b.post(fp+"/verify", url.Values{"code": {e.out.Code("alice.private@example.org")}})
		b.must(200, "Choose a new password")

		// A stored hash with heavy parameters holds the one slot for a
		// while (Verify uses the parameters of the hash it checks).
		heavy := "$argon2id$v=19$m=32768,t=16,p=1$" + strings.Repeat("A", 22) + "$" + strings.Repeat("A", 43)
		before := h.Evaluations()
		released := make(chan struct{})
		go func() {
			defer close(released)
			_, _, _ = h.Verify(context.Background(), heavy, "x")
		}()
		for h.Evaluations() == before {
			runtime.Gosched()
		}
		resp := b.post(fp+"/password", url.Values{"password": {newPW}, "confirm": {newPW}})
		<-released
		b.must(http.StatusServiceUnavailable, "press the button again")
		if resp.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		if !strings.Contains(b.last, `name="password"`) {
			t.Fatalf("the busy answer is not the password form:\n%s", b.last)
		}
		if ok, err := e.users.CheckPassword(t.Context(), u.ID, newPW); err != nil || ok {
			t.Fatalf("password changed by the refused request: %v, %v", ok, err)
		}

		b.post(fp+"/password", url.Values{"password": {newPW}, "confirm": {newPW}})
		b.must(200, "Your password was changed")
	})
}
