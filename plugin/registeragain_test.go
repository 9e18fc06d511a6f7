package plugin_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin"
)

// TestRegisterAgain: a user an administrator marked to register again is
// sent to register at the next sign-in even though the policy does not
// ask it, cannot skip it, cannot recover with the methods they had, and
// is left alone once they have registered enough again.
func TestRegisterAgain(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		e.setPolicy("methods=email", "register_at_signin=false")
		u := e.user("rita", false)
		e.enrollEmail(u, "rita.home@example.org")
		after := func() string {
			t.Helper()
			c := echo.New().NewContext(httptest.NewRequest(http.MethodPost, "/login", nil), httptest.NewRecorder())
			to, err := e.plugin.AfterSignIn(c, u.ID, "AR-1")
			if err != nil {
				t.Fatal(err)
			}
			return to
		}
		offered := func() bool {
			b := e.browser()
			fp := b.start("rita", "")
			b.post(fp, url.Values{"intent": {"reset"}})
			return strings.Contains(b.last, "r•••e@example.org")
		}
		if to := after(); to != "" || !offered() {
			t.Fatalf("before the mark: sent to %q, offered %v", to, offered())
		}
		if err := e.g.Transaction(func(tx *gorm.DB) error {
			return plugin.RequireRegisterAgain(ctx, tx, e.users, u.ID, e.clock.Now())
		}); err != nil {
			t.Fatal(err)
		}
		if offered() {
			t.Fatal("the old address is still offered for recovery")
		}
		to := after()
		if !strings.HasPrefix(to, "/security-info/register/") {
			t.Fatalf("marked user sent to %q, want the registration", to)
		}
		if got, _ := e.users.ByID(ctx, u.ID); got.RegisterAgainAt == nil {
			t.Fatal("mark gone before registering")
		}
		// The registration cannot be skipped, even though the policy
		// allows skips.
		b := e.signedIn(u)
		to = e.forcedRegistration(b, u)
		b.get(to)
		b.must(200, "Keep your account secure")
		if strings.Contains(b.last, "/skip") {
			t.Fatal("skip offered to a user who must register again")
		}
		b.post(to+"/skip", nil)
		var skips int64
		e.g.Table("sspr_user_state").Where("user_id = ? AND skips > 0", u.ID).Count(&skips)
		if skips != 0 || b.code == http.StatusSeeOther {
			t.Fatalf("skip accepted: %d skips, status %d", skips, b.code)
		}
		e.enrollEmail(u, "rita.new@example.org")
		if to := after(); to != "" {
			t.Fatalf("after registering again: sent to %q", to)
		}
		if got, _ := e.users.ByID(ctx, u.ID); got.RegisterAgainAt != nil {
			t.Fatal("mark kept after registering enough again")
		}
	})
}
