package plugin_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/method/totp"
)

// TestAdminNeedsTwoAndNoQuestions (C24): one proof is not enough for an
// admin, and security questions are never offered to one.
func TestAdminNeedsTwoAndNoQuestions(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setPolicy("methods=email,totp,questions")
		e.user("second-admin", true)
		u := e.user("root", true)
		secret := e.enrollTOTP(u)
		e.enrollQuestions(u)
		e.enrollEmail(u, "root@example.org")
		b := e.browser()
		fp := b.start("root", "")
		b.post(fp, url.Values{"intent": {"reset"}})
		if strings.Contains(b.last, "security questions") {
			t.Fatal("questions offered to an admin")
		}
		b.choose(fp, "authenticator app")
		code, _ := totp.Code(secret, e.clock.Now())
		b.post(fp+"/verify", url.Values{"code": {code}})
		b.must(200, "One more check is needed")
		b.choose(fp, "r•••t@example.org")
		e.drain()
		b.post(fp+"/verify", url.Values{"code": {e.out.Code("root@example.org")}})
		b.must(200, "Choose a new password")
		b.post(fp+"/password", url.Values{"password": {newPW}, "confirm": {newPW}})
		b.must(200, "Your password was changed")
		e.drain()
		if m := e.out.To("second-admin@example.com"); len(m) != 1 || !strings.Contains(m[0].Text, "root") {
			t.Fatalf("other admins not notified of an admin reset: %+v", m)
		}
	})
}

// TestCoolDown: a method added while others exist is not offered for
// recovery until the cool-down has passed; the first one is usable at once.
func TestCoolDown(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("walt", false)
		e.enrollTOTP(u)
		ctx := t.Context()
		p, _ := e.email.Begin(ctx, "x", ref(u), map[string]string{"address": "walt@example.org"})
		e.drain()
		en, _, _ := e.email.Finish(ctx, "x", ref(u), p, map[string]string{"code": e.out.Code("walt@example.org")})
		pol, _ := e.policy.Get(ctx)
		if err := e.store.Add(ctx, &en, pol.CoolDown()); err != nil {
			t.Fatal(err)
		}
		offered := func() bool {
			b := e.browser()
			fp := b.start("walt", "")
			b.post(fp, url.Values{"intent": {"reset"}})
			return strings.Contains(b.last, "w•••t@example.org")
		}
		if offered() {
			t.Fatal("new method usable during the cool-down")
		}
		e.clock.Advance(24*time.Hour + time.Minute)
		if !offered() {
			t.Fatal("method not usable after the cool-down")
		}
	})
}

// TestReconfirmAndHelpdesk: after reconfirm_days a signed-in user is asked
// to confirm the methods; the helpdesk link shows on the start page.
func TestReconfirmAndHelpdesk(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setPolicy("reconfirm_days=30", "helpdesk_url=https://help.example.com/it")
		u := e.user("xena", false)
		e.enrollTOTP(u)
		after := func() string {
			ec := echo.New()
			rec := httptest.NewRecorder()
			c := ec.NewContext(httptest.NewRequest(http.MethodPost, "/login", nil), rec)
			to, err := e.plugin.AfterSignIn(c, u.ID, "AR-1")
			if err != nil {
				t.Fatal(err)
			}
			return to
		}
		if to := after(); to != "" {
			t.Fatalf("fresh methods sent to %q", to)
		}
		e.clock.Advance(31 * 24 * time.Hour)
		if to := after(); !strings.HasPrefix(to, "/security-info/register/") {
			t.Fatalf("stale methods: %q", to)
		}
		b := e.browser()
		b.get("/recover")
		b.must(200, `href="https://help.example.com/it"`)
	})
}

// TestQuestionsStayTheSame (I57): restarting a flow asks the same
// questions until they are answered right.
func TestQuestionsStayTheSame(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setPolicy("methods=email,totp,questions", "questions_register=5", "questions_ask=2")
		u := e.user("zack", false)
		e.enrollTOTP(u)
		ctx := t.Context()
		pool, _ := e.qs.Available(ctx)
		in := map[string]string{}
		for i := range 5 {
			in["question."+itoa(i)] = pool[i].ID
			in["answer."+itoa(i)] = answerFor(pool[i].Text)
		}
		p, err := e.qs.Begin(ctx, "x", ref(u), in)
		if err != nil {
			t.Fatal(err)
		}
		en, _, _ := e.qs.Finish(ctx, "x", ref(u), p, nil)
		if err := e.store.Add(ctx, &en, 0); err != nil {
			t.Fatal(err)
		}
		asked := func() []string {
			b := e.browser()
			fp := b.start("zack", "")
			b.post(fp, url.Values{"intent": {"reset"}})
			b.choose(fp, "security questions")
			return questionTexts(b.last)
		}
		first := asked()
		for range 3 {
			if got := asked(); strings.Join(got, "|") != strings.Join(first, "|") || len(got) != 2 {
				t.Fatalf("questions changed: %v then %v", first, got)
			}
		}
	})
}

// TestReplayedTOTPNotifies (G46): a used authenticator code presented
// again fails, is audited and mailed to the user.
func TestReplayedTOTPNotifies(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("abby", false)
		secret := e.enrollTOTP(u)
		code, _ := totp.Code(secret, e.clock.Now())
		for i := range 2 {
			b := e.browser()
			fp := b.start("abby", "")
			b.post(fp, url.Values{"intent": {"reset"}})
			b.choose(fp, "authenticator app")
			b.post(fp+"/verify", url.Values{"code": {code}})
			if i == 1 {
				b.must(200, "is not right")
			}
		}
		e.drain()
		if m := e.out.To("abby@example.com"); len(m) != 1 || !strings.Contains(m[0].Subject, "used twice") {
			t.Fatalf("replay notification: %+v", m)
		}
	})
}
