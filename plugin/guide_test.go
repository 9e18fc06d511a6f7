package plugin_test

import (
	"html"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/method/totp"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// doc parses the browser's last page.
func (b *browser) doc() *goquery.Document {
	b.e.t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(b.last))
	if err != nil {
		b.e.t.Fatal(err)
	}
	return d
}

// text is the trimmed text of sel on the last page.
func (b *browser) text(sel string) string { return strings.TrimSpace(b.doc().Find(sel).First().Text()) }

// href is the address of the first link matching sel ("" when none).
func (b *browser) href(sel string) string { h, _ := b.doc().Find(sel).First().Attr("href"); return h }

// wantStep checks the "Step N of M" line of the last page.
func (b *browser) wantStep(page, want string) {
	b.e.t.Helper()
	if got := b.text("p.step"); got != want {
		b.e.t.Errorf("%s page says %q, want %q", page, got, want)
	}
}

// TestRecoveryStepsFollowThePath: every recovery page says where the
// person is, and the total follows the policy (one or two proofs) and
// the path (reset or unlock).
func TestRecoveryStepsFollowThePath(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		t.Run("one-proof-reset", func(t *testing.T) {
			u := e.user("fay", false)
			e.enrollEmail(u, "fay.home@example.org")
			b := e.browser()
			b.get("/recover")
			b.wantStep("start", "Step 1 of 4")
			fp := b.start("fay", "")
			b.wantStep("reason", "Step 2 of 4")
			b.post(fp, url.Values{"intent": {"reset"}})
			b.wantStep("method", "Step 3 of 4")
			b.choose(fp, "f•••e@example.org")
			b.wantStep("verify", "Step 3 of 4")
			e.drain()
			b.post(fp+"/verify", url.Values{"code": {e.out.Code("fay.home@example.org")}})
			b.must(200, "Choose a new password")
			b.wantStep("password", "Step 4 of 4")
		})
		t.Run("one-proof-unlock", func(t *testing.T) {
			u := e.user("gus", false)
			e.enrollEmail(u, "gus.home@example.org")
			b := e.browser()
			b.get("/recover?reason=unlock")
			b.wantStep("start", "Step 1 of 3")
			fp := b.start("gus", "")
			b.post(fp, url.Values{"intent": {"unlock"}})
			b.wantStep("method", "Step 3 of 3")
			b.choose(fp, "g•••e@example.org")
			b.wantStep("verify", "Step 3 of 3")
		})
		t.Run("two-proofs-reset", func(t *testing.T) {
			e.setPolicy("required=2", "methods=email,totp,questions", "questions_ask=2")
			defer e.setPolicy("required=1", "methods=email,totp")
			u := e.user("hal", false)
			e.enrollEmail(u, "hal.home@example.org")
			e.enrollQuestions(u)
			b := e.browser()
			b.get("/recover")
			b.wantStep("start", "Step 1 of 5")
			fp := b.start("hal", "")
			b.wantStep("reason", "Step 2 of 5")
			b.post(fp, url.Values{"intent": {"reset"}})
			b.wantStep("method", "Step 3 of 5")
			b.choose(fp, "h•••e@example.org")
			b.wantStep("verify", "Step 3 of 5")
			e.drain()
			b.post(fp+"/verify", url.Values{"code": {e.out.Code("hal.home@example.org")}})
			b.wantStep("second method", "Step 4 of 5")
			b.choose(fp, "security questions")
			b.wantStep("second verify", "Step 4 of 5")
			in := url.Values{}
			for i, q := range questionTexts(b.last) {
				in.Set("answer."+itoa(i), answerFor(q))
			}
			b.post(fp+"/verify", in)
			b.must(200, "Choose a new password")
			b.wantStep("password", "Step 5 of 5")
		})
	})
}

// TestRecoveryBackAndCancel: Cancel goes to the sign-in page with the
// app's request; Back goes one step back without losing what was typed
// or chosen, until a proof was made.
func TestRecoveryBackAndCancel(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setPolicy("required=2", "methods=email,totp,questions", "questions_ask=2")
		u := e.user("ivy", false)
		e.enrollEmail(u, "ivy.home@example.org")
		e.enrollQuestions(u)
		cancel := "/login?authRequestID=" + boundRequest + "&username="
		b := e.browser()
		b.get("/recover?authRequestID=" + boundRequest)
		if got := b.href(`nav.page-nav a:contains("Cancel")`); got != cancel {
			t.Errorf("start page Cancel goes to %q, want %q", got, cancel)
		}
		fp := b.start("ivy", boundRequest)
		if got := b.href(`nav.page-nav a:contains("Cancel")`); got != cancel {
			t.Errorf("reason page Cancel goes to %q", got)
		}
		// Back from the reason: the name page with the name and the app kept.
		b.get(b.href(`nav.page-nav a[rel="prev"]`))
		b.must(200, "Get back into your account")
		d := b.doc()
		if v, _ := d.Find("#username").Attr("value"); v != "ivy" {
			t.Errorf("Back lost the typed name: %q", v)
		}
		if v, _ := d.Find(`input[name="authRequestID"]`).Attr("value"); v != boundRequest {
			t.Errorf("Back lost the app's request: %q", v)
		}
		if got := b.href(`nav.page-nav a[rel="prev"]`); got != "/login?authRequestID="+boundRequest+"&username=ivy" {
			t.Errorf("start page Back goes to %q", got)
		}

		b.post(fp, url.Values{"intent": {"unlock"}})
		b.must(200, "Verify it's you")
		b.choose(fp, "i•••e@example.org")
		b.must(200, "Enter the code from your email")
		e.drain()
		e.out.Clear()
		if got := b.href(`nav.page-nav a[rel="prev"]`); got != fp+"/method" {
			t.Errorf("verify page Back goes to %q", got)
		}
		if got := b.href(`nav.page-nav a:contains("Cancel")`); got != cancel {
			t.Errorf("verify page Cancel goes to %q", got)
		}
		b.get(fp + "/method")
		// Back from the method list, with a code out: the reason page,
		// the choice kept; choosing again drops the code.
		back := b.href(`nav.page-nav a[rel="prev"]`)
		if back != fp {
			t.Fatalf("method page Back goes to %q, want %q", back, fp)
		}
		b.get(back)
		b.must(200, "Why are you having trouble")
		if _, ok := b.doc().Find(`input[value="unlock"]`).Attr("checked"); !ok {
			t.Error("Back lost the chosen reason")
		}
		b.post(fp, url.Values{"intent": {"reset"}})
		b.must(200, "Verify it's you")
		b.get(fp + "/verify")
		b.must(403, "cannot continue")

		// After a proof, the reason is fixed: no Back, and the reason page
		// is refused.
		b.get(fp + "/method")
		e.clock.Advance(2 * time.Minute) // past the address's resend window
		b.choose(fp, "i•••e@example.org")
		e.drain()
		b.post(fp+"/verify", url.Values{"code": {e.out.Code("ivy.home@example.org")}})
		b.must(200, "One more check is needed")
		if got := b.href(`nav.page-nav a[rel="prev"]`); got != "" {
			t.Errorf("Back offered after a proof: %q", got)
		}
		if got := b.href(`nav.page-nav a:contains("Cancel")`); got != cancel {
			t.Errorf("second method page Cancel goes to %q", got)
		}
		b.get(fp)
		b.must(403, "cannot continue")
	})
}

// TestExpiredRecoveryStartsAgainWithTheApp: "Start again" on an expired
// recovery keeps the app's request, so the person still returns to it.
func TestExpiredRecoveryStartsAgainWithTheApp(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("jon", false)
		e.enrollEmail(u, "jon.home@example.org")
		b := e.browser()
		fp := b.start("jon", boundRequest)
		b.post(fp, url.Values{"intent": {"reset"}})
		b.choose(fp, "j•••e@example.org")
		e.clock.Advance(flow.TTL + time.Minute)
		for _, path := range []string{fp, fp + "/method", fp + "/verify"} {
			b.get(path)
			b.must(403, "cannot continue")
			if got := b.href(`a:contains("Start again")`); got != "/recover?authRequestID="+boundRequest {
				t.Errorf("%s: Start again goes to %q", path, got)
			}
		}
		// Another browser's flow says nothing of the app.
		other := e.browser()
		other.get(fp + "/method")
		other.must(403, "cannot continue")
		if got := other.href(`a:contains("Start again")`); got != "/recover" {
			t.Errorf("a stranger's Start again goes to %q", got)
		}
	})
}

// TestMethodListSaysTheTypedName: real and decoy lists alike help the
// person who mistyped: the typed name, and a way to start again that
// keeps the app.
func TestMethodListSaysTheTypedName(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		u := e.user("kim", false)
		e.enrollEmail(u, "kim.home@example.org")
		shape := map[string]string{}
		for _, login := range []string{"kim", "kimm@example.org"} {
			b := e.browser()
			fp := b.start(login, boundRequest)
			b.post(fp, url.Values{"intent": {"reset"}})
			b.must(200, "Verify it's you")
			check := b.doc().Find("#username-check")
			if got := strings.TrimSpace(check.Find("strong").Text()); got != login {
				t.Errorf("%s: the page names %q", login, got)
			}
			if h, _ := check.Find("a").Attr("href"); h != "/recover?authRequestID="+boundRequest {
				t.Errorf("%s: start again goes to %q", login, h)
			}
			html, _ := goquery.OuterHtml(check)
			shape[login] = strings.Replace(html, login, "NAME", 1)
		}
		if shape["kim"] != shape["kimm@example.org"] {
			t.Errorf("real and unknown names differ:\n%s\n%s", shape["kim"], shape["kimm@example.org"])
		}
	})
}

// TestMethodListExplainsTheRules: the method list says what counts before
// anyone tries, what is still needed after a proof and why, and who helps
// when the registered methods cannot be enough.
func TestMethodListExplainsTheRules(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setPolicy("methods=email,totp,questions", "questions_ask=2")
		atList := func(name string) (*browser, string) {
			b := e.browser()
			fp := b.start(name, "")
			b.post(fp, url.Values{"intent": {"reset"}})
			b.must(200, "Verify it's you")
			return b, fp
		}
		t.Run("app-alone-or-two", func(t *testing.T) {
			u := e.user("lea", false)
			e.enrollTOTP(u)
			e.enrollEmail(u, "lea.home@example.org")
			b, fp := atList("lea")
			if got := b.text("#need"); !strings.Contains(got, "the app alone is enough. With any other method, you need two checks") {
				t.Errorf("app rule not explained: %q", got)
			}
			b.choose(fp, "l•••e@example.org")
			e.drain()
			b.post(fp+"/verify", url.Values{"code": {e.out.Code("lea.home@example.org")}})
			if got := b.text("#need"); !strings.Contains(got, "your account has an authenticator app") {
				t.Errorf("after an email proof: %q", got)
			}
		})
		t.Run("questions-beside-another", func(t *testing.T) {
			u := e.user("max", false)
			e.enrollEmail(u, "max.home@example.org")
			e.enrollQuestions(u)
			b, fp := atList("max")
			if got := b.text("#need"); !strings.Contains(got, "Security questions count only beside another method") {
				t.Errorf("questions rule not explained: %q", got)
			}
			if got := b.text("#need"); strings.Contains(got, "not enough") {
				t.Errorf("email and questions reported as not enough: %q", got)
			}
			b.choose(fp, "security questions")
			in := url.Values{}
			for i, q := range questionTexts(b.last) {
				in.Set("answer."+itoa(i), answerFor(q))
			}
			b.post(fp+"/verify", in)
			if got := b.text("#need"); !strings.Contains(got, "security questions count only beside another method") {
				t.Errorf("after the questions: %q", got)
			}
		})
		t.Run("questions-only-is-a-dead-end-with-help", func(t *testing.T) {
			u := e.user("ned", false)
			e.enrollQuestions(u)
			b, fp := atList("ned")
			if got := b.text("#need"); !strings.Contains(got, "These methods are not enough to get back into your account here: contact your helpdesk") {
				t.Errorf("a list that can never suffice is not flagged: %q", got)
			}
			if got := b.text("p.help"); !strings.Contains(got, "Contact your IT helpdesk or the person who manages your account") {
				t.Errorf("default helpdesk words missing: %q", got)
			}
			b.choose(fp, "security questions")
			in := url.Values{}
			for i, q := range questionTexts(b.last) {
				in.Set("answer."+itoa(i), answerFor(q))
			}
			b.post(fp+"/verify", in)
			b.must(200, "You need another method")
			if got := b.text("#need"); !strings.Contains(got, "security questions count only beside another method") {
				t.Errorf("dead end does not say why: %q", got)
			}
			if !strings.Contains(b.last, "What to do now") {
				t.Error("dead end does not say what to do")
			}
		})
		t.Run("admin-needs-two", func(t *testing.T) {
			u := e.user("ora", true)
			e.enrollEmail(u, "ora.home@example.org")
			e.enrollTOTP(u)
			b, fp := atList("ora")
			b.choose(fp, "o•••e@example.org")
			e.drain()
			b.post(fp+"/verify", url.Values{"code": {e.out.Code("ora.home@example.org")}})
			if got := b.text("#need"); !strings.Contains(got, "administrator accounts always need two checks") {
				t.Errorf("admin rule not explained: %q", got)
			}
		})
		t.Run("helpdesk-by-mail", func(t *testing.T) {
			e.setPolicy("helpdesk_url=mailto:it@corp.example")
			defer e.setPolicy("helpdesk_url=")
			e.user("pia", false)
			b, _ := atList("pia")
			if got, href := b.text("p.help"), b.href("p.help a"); !strings.Contains(got, "Email your helpdesk at it@corp.example") || href != "mailto:it@corp.example" {
				t.Errorf("helpdesk mail shown as %q -> %q", got, href)
			}
		})
	})
}

// TestVerifyPageSaysWhatFailed: every failure names what failed and what
// to do next; the page's words follow the way the code was sent. Each case
// has its own user, so no case pauses another's recovery.
func TestVerifyPageSaysWhatFailed(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.setPolicy("methods=email,totp,questions", "questions_ask=2")
		at := func(name, label string) (*browser, string, string) {
			u := e.user(name, false)
			e.enrollEmail(u, name+".home@example.org")
			secret := e.enrollTOTP(u)
			e.enrollQuestions(u)
			b := e.browser()
			fp := b.start(name, "")
			b.post(fp, url.Values{"intent": {"reset"}})
			b.choose(fp, label)
			return b, fp, secret
		}
		t.Run("email", func(t *testing.T) {
			b, fp, _ := at("rae", "r•••e@example.org")
			b.must(200, "Enter the code from your email")
			if got := b.text("#code-hint"); !strings.Contains(got, "We sent a code by email to r•••e@example.org") || !strings.Contains(got, "UTC") {
				t.Errorf("hint %q", got)
			}
			b.post(fp+"/verify", url.Values{"code": {"00000000"}})
			if got := b.text("#verify-error"); !strings.Contains(got, "That code is not right") {
				t.Errorf("wrong code: %q", got)
			}
		})
		t.Run("email-expired", func(t *testing.T) {
			b, fp, _ := at("sam", "s•••e@example.org")
			e.drain()
			code := e.out.Code("sam.home@example.org")
			e.clock.Advance(11 * time.Minute)
			b.post(fp+"/verify", url.Values{"code": {code}})
			if got := b.text("#verify-error"); !strings.Contains(got, "This code has expired") || !strings.Contains(got, "Send a new code") {
				t.Errorf("expired code: %q", got)
			}
		})
		t.Run("authenticator", func(t *testing.T) {
			b, fp, secret := at("tia", "authenticator app")
			b.must(200, "Enter the code from your authenticator app")
			good, _ := totp.Code(secret, e.clock.Now())
			bad := "000000"
			if good == bad {
				bad = "111111"
			}
			b.post(fp+"/verify", url.Values{"code": {bad}})
			if got := b.text("#verify-error"); !strings.Contains(got, "Type the code your authenticator app shows now") {
				t.Errorf("wrong app code: %q", got)
			}
		})
		t.Run("questions", func(t *testing.T) {
			b, fp, _ := at("uma", "security questions")
			b.must(200, "Answer your security questions")
			in := url.Values{}
			for i := range questionTexts(b.last) {
				in.Set("answer."+itoa(i), "wrong")
			}
			b.post(fp+"/verify", in)
			if got := b.text("#verify-error"); !strings.Contains(got, "spelling and spacing must be exact") {
				t.Errorf("wrong answers: %q", got)
			}
		})
	})
}

// TestRecoveryPagesInEveryLanguage walks a recovery in each translated
// language: every page speaks it (html lang, its words for the step, the
// exits, the helpdesk, the code page and its failure) and none of the
// English words are left.
func TestRecoveryPagesInEveryLanguage(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		english := []string{"Step 1 of", "Why are you having trouble", "Verify it", ">Back<", ">Cancel<", "Stuck?",
			"Enter the code", "We sent a code", "That code is not right", "Choose a new password", "Not seeing your method"}
		for i, lang := range []string{"de", "fr", "es", "ja", "ar"} {
			t.Run(lang, func(t *testing.T) {
				l, _ := i18n.For(lang)
				name := "lang" + itoa(i)
				addr := name + ".home@example.org"
				u := e.user(name, false)
				e.enrollEmail(u, addr)
				b := e.browser()
				b.lang = lang
				check := func(page, want string) {
					t.Helper()
					d := b.doc()
					if got, _ := d.Find("html").Attr("lang"); got != lang {
						t.Errorf("%s page is in %q", page, got)
					}
					body := html.UnescapeString(b.last)
					if !strings.Contains(body, want) {
						t.Errorf("%s page lacks %q", page, want)
					}
					for _, en := range english {
						if strings.Contains(body, en) {
							t.Errorf("%s page still says %q", page, en)
						}
					}
				}
				b.get("/recover")
				check("start", l.T("recover.step.of", "N", 1, "M", 4))
				fp := b.flowPath(b.post("/recover", url.Values{"username": {name}, "captcha": {"ok"}}))
				check("reason", l.T("recover.intent.title"))
				b.post(fp, url.Values{"intent": {"reset"}})
				check("method", l.T("recover.method.username_check"))
				b.choose(fp, "@example.org")
				check("verify", l.T("verify.title.email"))
				b.post(fp+"/verify", url.Values{"code": {"00000000"}})
				check("wrong code", l.T("verify.error.wrong_code"))
				e.drain()
				b.post(fp+"/verify", url.Values{"code": {e.out.Code(addr)}})
				check("password", l.T("recover.password.title"))
			})
		}
	})
}
