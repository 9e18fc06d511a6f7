package plugin_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
)

// TestBrowserSecurityInfoFits: with every kind of method added (one of
// them still cooling down, long names and addresses), Security info and a
// delete confirmation scroll sideways neither at 320 nor at 390 px, every
// row names its detail and date, and no two rows read the same.
func TestBrowserSecurityInfoFits(t *testing.T) {
	x := startAll(t, dbtest.URL(t, dbtest.SQLite), "US", allKinds...)
	ctx := t.Context()
	secret := x.EnrollTOTP(t)
	x.EnrollPush(t, "Pixel 8 Pro of Alexandra Montgomery-Smith")
	x.EnrollPhone(t, method.Mobile, method.Input{"phone": "+12015550160"}, "+12015550160")
	x.EnrollPhone(t, method.AlternatePhone, method.Input{"phone": "+12015550161"}, "+12015550161")
	x.EnrollPhone(t, method.OfficePhone, method.Input{"phone": "+12015550162", "extension": "123456"}, "+12015550162")
	x.EnrollEmail(t, "alexandra.montgomery-smith.backup@subsidiary.example.com")
	pool, err := x.Questions.Available(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := method.Input{}
	for i := range 3 {
		in[fmt.Sprintf("question.%d", i)], in[fmt.Sprintf("answer.%d", i)] = pool[i].ID, answerFor(pool[i].Text)
	}
	qp, err := x.Questions.Begin(ctx, "enroll-questions", x.Ref(), in)
	if err != nil {
		t.Fatal(err)
	}
	qe, _, err := x.Questions.Finish(ctx, "enroll-questions", x.Ref(), qp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Store.Add(ctx, &qe, 0); err != nil {
		t.Fatal(err)
	}
	// A second address, added later: it cools down.
	const later = "alexandra.montgomery-smith.travel@subsidiary.example.com"
	p, err := x.Email.Begin(ctx, "enroll-email-2", x.Ref(), method.Input{"address": later})
	if err != nil {
		t.Fatal(err)
	}
	en, _, err := x.Email.Finish(ctx, "enroll-email-2", x.Ref(), p, method.Input{"code": x.MailCode(t, later)})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Store.Add(ctx, &en, 24*time.Hour); err != nil {
		t.Fatal(err)
	}

	br := chrometest.Start(t, chrometest.Trust(x.Server.HTTP.Certificate()))
	tab := br.NewDevice()
	tab.Go(x.Server.URL + "/security-info")
	tab.WaitText("h1", "Sign in")
	tab.Type("#username", pt.Username)
	tab.Type("#password", pt.Password)
	tab.ClickText("button", "Sign in")
	tab.WaitText("main", "Before you view or change your security info")
	tab.ClickText("label", "Enter a code from your authenticator app")
	tab.ClickText("button", "Next")
	tab.WaitText("main", "Code")
	c, _ := totp.Code(secret, x.Server.Clock.Now())
	tab.Type("#code", c)
	tab.ClickText("button", "Verify")
	tab.WaitText("h1", "Security info")

	rows := chrometest.Eval[[]string](tab, `Array.from(document.querySelectorAll("ul.si-rows li .si-row-text")).map(function(e){return e.innerText.replace(/\s+/g," ").trim()})`)
	if len(rows) != 8 {
		t.Fatalf("%d rows: %q", len(rows), rows)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r] {
			t.Errorf("two rows read %q", r)
		}
		seen[r] = true
		if !strings.Contains(r, "added ") {
			t.Errorf("row %q does not say when it was added", r)
		}
	}
	if !strings.Contains(strings.Join(rows, "\n"), "Pixel 8 Pro of Alexandra") || !strings.Contains(strings.Join(rows, "\n"), "Usable for recovery from") {
		t.Errorf("rows lack the device name or the cool-down:\n%s", strings.Join(rows, "\n"))
	}
	fits := func(page string) {
		t.Helper()
		for _, w := range []int64{320, 390} {
			tab.Viewport(w, 800, true)
			tab.Reload()
			tab.WaitText("h1", page)
			got := chrometest.Eval[string](tab, `(function(){var d=document.documentElement;
			  var wide=Array.from(document.querySelectorAll("main *")).filter(function(e){return e.getBoundingClientRect().right>d.clientWidth+0.5}).map(function(e){return e.tagName+"."+e.className}).slice(0,5);
			  return d.scrollWidth+"/"+d.clientWidth+" "+wide.join(",")})()`)
			var sw, cw int
			fmt.Sscanf(got, "%d/%d", &sw, &cw)
			if sw > cw {
				t.Errorf("%s at %d px scrolls sideways: %s", page, w, got)
			}
		}
	}
	fits("Security info")
	tab.ClickText("li a", "Delete")
	tab.WaitText("h1", "Delete this method?")
	fits("Delete this method?")
	tab.NoProblems()
}
