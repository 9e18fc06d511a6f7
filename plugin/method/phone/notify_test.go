package phone_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/sender/outbox"
	"github.com/latchkeyid/latchkey/plugin/sender/twilio/twiliotest"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
)

// Checklist 54 for phones on the Security info page: a new phone is bound
// only after the code the call said is entered, inside a step-up at most
// ten minutes old; the account's address hears of the addition and of the
// removal, in mails that show the number masked only.
func TestEndToEndPhoneChangeNotifies(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, dbURL string) {
		x := startE2E(t, dbURL)
		ctx := t.Context()
		addr := x.Server.User.Email
		mailWith := func(t *testing.T, want string) string {
			t.Helper()
			if _, err := x.Queue.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			r, err := x.Outbox.Wait(wctx, addr, func(r outbox.Record) bool { return strings.Contains(r.Text, want) })
			if err != nil {
				t.Fatalf("no mail to %s containing %q: %v", addr, want, err)
			}
			return r.Text
		}
		x.EnrollPhone(t, method.Mobile, method.Input{"phone": "+12015550106"}, "+12015550106")
		b := x.SignIn(t)
		// No step-up yet: the add page asks for one and nothing is called.
		before := x.Gateway.Requests()
		info := mustPage(t, b.Get(x.Server.URL+"/security-info/add/alternate-phone"), "Before you view or change your security info")
		if x.Gateway.Requests() != before {
			t.Fatal("the gateway was called before the step-up")
		}
		id, _ := info.Doc.Find(`input[name="enrollment"]`).First().Attr("value")
		code := mustPage(t, b.Submit(info, "form", map[string]string{"enrollment": id}), "We sent a code")
		// The step-up ends on the page it was asked for.
		add := mustPage(t, b.Submit(code, "form", map[string]string{"code": x.Gateway.SMSCode("+12015550106")}), "Add Alternate phone")
		sent := mustPage(t, b.Submit(add, "form", map[string]string{"phone": "201 555 0108", "country": "US"}), "We sent a code")
		if ms, _ := x.Store.List(ctx, x.Server.User.ID); len(ms) != 1 {
			t.Fatal("the number was bound before its code was entered")
		}
		wrong := mustPage(t, b.Submit(sent, "form", map[string]string{"code": "00000000"}), "is not right")
		if ms, _ := x.Store.List(ctx, x.Server.User.ID); len(ms) != 1 {
			t.Fatal("a wrong code bound the number")
		}
		calls := x.Gateway.Calls()
		list := mustPage(t, b.Submit(wrong, "form", map[string]string{"code": twiliotest.SpokenCode(calls[len(calls)-1])}), "Alternate phone")
		ms, _ := x.Store.List(ctx, x.Server.User.ID)
		if len(ms) != 2 || ms[1].Method != method.AlternatePhone {
			t.Fatalf("enrollments %+v", ms)
		}
		added := mailWith(t, "was added")
		if !strings.Contains(added, "••08") || strings.Contains(added, "5550108") || strings.Contains(added, "555 0108") {
			t.Fatalf("added mail does not mask the number:\n%s", added)
		}

		sel := `a[href="/security-info/remove/` + ms[1].ID + `"]`
		if list.Doc.Find(sel).Length() != 1 {
			t.Fatalf("no delete link for the alternate phone:\n%s", list.Body)
		}
		confirm := mustPage(t, b.Get(x.Server.URL+"/security-info/remove/"+ms[1].ID), "Delete this method?")
		mustPage(t, b.Submit(confirm, `form[action="/security-info/remove"]`, nil), "Method deleted.")
		if ms, _ := x.Store.List(ctx, x.Server.User.ID); len(ms) != 1 || ms[0].Method != method.Mobile {
			t.Fatalf("after removal: %+v", ms)
		}
		removed := mailWith(t, "was removed")
		if strings.Contains(removed, "5550108") {
			t.Fatalf("removed mail shows the number:\n%s", removed)
		}

		// Ten minutes after the step-up, adding a phone needs a new one.
		x.Server.Clock.Advance(11 * time.Minute)
		before = x.Gateway.Requests()
		mustPage(t, b.Get(x.Server.URL+"/security-info/add/alternate-phone"), "Before you view or change your security info")
		if x.Gateway.Requests() != before {
			t.Fatal("the gateway was called after the step-up expired")
		}
	})
}
