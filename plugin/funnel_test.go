package plugin_test

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/report"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
)

// TestFunnelFromRealRecoveries: the pages leave the events the usage
// reports' funnel reads. A wrong CAPTCHA (for a real name and an unknown
// one alike, so it tells nothing) is recorded as a start that never became
// a flow; a recovery walked to the new password reaches every stage, one
// abandoned at the code stops at "method chosen".
func TestFunnelFromRealRecoveries(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		x := plugintest.Start(t, dbURL, plugintest.Options{Methods: []string{"email"}})
		x.EnrollEmail(t, "alice.home@example.net")
		since := x.Server.Clock.Now().Add(-time.Minute)
		ctx := t.Context()

		for _, name := range []string{pt.Username, "nobody-here"} {
			b := x.Server.NewBrowser(t)
			start := x.RecoverPage(t, b, "")
			res := startForm(t, b, start, map[string]string{"username": name, "captcha": "000000"})
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("a wrong CAPTCHA answered %d", res.StatusCode)
			}
		}
		evs, err := x.Server.Audit.List(ctx, audit.Filter{Type: audit.CaptchaFailed})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 {
			t.Fatalf("%d CAPTCHA failures recorded, want 2", len(evs))
		}
		for _, e := range evs {
			if e.UserID != "unknown" || e.FlowID != "" || e.Outcome != audit.Fail || e.Detail != "" {
				t.Errorf("CAPTCHA failure recorded as %+v: it must not tell a real name from an unknown one", e)
			}
		}

		// Walked to the end.
		b := x.Server.NewBrowser(t)
		methods := x.RecoverStart(t, b, "", pt.Username)
		verify := mustPage(t, b.Submit(methods, "form", map[string]string{"enrollment": optionFor(t, methods, "a•••e@example.net")}),
			"We sent a code")
		pw := mustPage(t, b.Submit(verify, `form[action$="/verify"]`, map[string]string{"code": x.MailCode(t, "alice.home@example.net")}),
			"Choose a new password")
		newPW := "a brand new passphrase 42"
		if res := b.Submit(pw, "form", map[string]string{"password": newPW, "confirm": newPW}); res.Page == nil && len(res.Statuses) == 0 {
			t.Fatalf("password step: %s", res)
		}
		// Abandoned once the code was sent.
		b2 := x.Server.NewBrowser(t)
		methods2 := x.RecoverStart(t, b2, "", pt.Username)
		mustPage(t, b2.Submit(methods2, "form", map[string]string{"enrollment": optionFor(t, methods2, "a•••e@example.net")}),
			"We sent a code")

		got, err := report.New(x.Server.DB).Funnel(ctx, report.Range{Since: since, Until: x.Server.Clock.Now().Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		want := []report.FunnelStep{
			{Stage: report.StageStarted, Reached: 4, Stopped: 2},
			{Stage: report.StageCaptchaPassed, Reached: 2, Stopped: 0},
			{Stage: report.StageMethodChosen, Reached: 2, Stopped: 1},
			{Stage: report.StageCodeVerified, Reached: 1, Stopped: 0},
			{Stage: report.StageCompleted, Reached: 1, Stopped: 0},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("funnel\n got  %+v\n want %+v", got, want)
		}
	})
}
