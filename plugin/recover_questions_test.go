package plugin_test

import (
	"net/url"
	"slices"
	"testing"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/questions"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// TestRecoverWithCustomQuestionInGerman: a user who registered a custom
// question is asked its German text on a German recovery page and
// recovers with the answer; once an admin removes the question, that
// answer no longer counts: it is not asked again and the user recovers
// with the other questions.
func TestRecoverWithCustomQuestionInGerman(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		e.setPolicy("methods=email,questions", "questions_ask=3", "required=2") // questions never suffice alone
		const en, de = "Where was our first office?", "Wo war unser erstes Büro?"
		q, err := e.qs.AddCustom(ctx, map[string]string{"en": en, "de": de})
		if err != nil {
			t.Fatal(err)
		}
		u := e.user("greta", false)
		e.enrollEmail(u, "greta.private@example.org")
		in := method.Input{"question.0": q.ID, "answer.0": "Hauptstraße 12",
			"question.1": "b01", "answer.1": "Springfield Road", "question.2": "b12", "answer.2": "Mr Whiskers"}
		p, err := e.qs.Begin(ctx, "enroll", ref(u), in)
		if err != nil {
			t.Fatal(err)
		}
		enr, res, err := e.qs.Finish(ctx, "enroll", ref(u), p, nil)
		if err != nil || !res.OK {
			t.Fatalf("enroll: %v %+v", err, res)
		}
		if err := e.store.Add(ctx, &enr, 0); err != nil {
			t.Fatal(err)
		}
		deL, _ := i18n.For("de")
		byText := map[string]string{} // the German text asked → its answer
		for i, id := range []string{q.ID, "b01", "b12"} {
			text := de
			if id != q.ID {
				text = deL.T("question.pool." + id)
			}
			byText[text] = in[questions.FieldAnswer(i)]
		}
		recover := func(wantAsked int) []string {
			t.Helper()
			b := e.browser()
			b.lang = "de"
			b.get("/recover?authRequestID=" + boundRequest)
			fp := b.flowPath(b.post("/recover", url.Values{"username": {"greta"}, "authRequestID": {boundRequest}, "captcha": {"ok"}}))
			b.post(fp, url.Values{"intent": {"reset"}})
			b.choose(fp, "question")
			asked := questionTexts(b.last)
			if len(asked) != wantAsked {
				t.Fatalf("asked %v, want %d questions:\n%s", asked, wantAsked, b.last)
			}
			answers := url.Values{}
			for i, text := range asked {
				a, ok := byText[text]
				if !ok {
					t.Fatalf("asked %q, not a German text of the user's questions", text)
				}
				answers.Set(questions.FieldAnswer(i), a)
			}
			b.post(fp+"/verify", answers)
			b.choose(fp, "@example.org") // the answers counted: the second method
			e.drain()
			b.post(fp+"/verify", url.Values{"code": {e.out.Code("greta.private@example.org")}})
			b.must(200, `autocomplete="new-password"`)
			return asked
		}
		if asked := recover(3); !slices.Contains(asked, de) || slices.Contains(asked, en) {
			t.Fatalf("asked %v, want the German custom text", asked)
		}
		if err := e.qs.DeleteCustom(ctx, q.ID); err != nil {
			t.Fatal(err)
		}
		if asked := recover(2); slices.Contains(asked, de) || slices.Contains(asked, en) {
			t.Fatalf("a removed question is still asked: %v", asked)
		}

		// A user whose every question was removed is told to choose another
		// method, not shown an error.
		only := e.user("otto", false)
		e.enrollEmail(only, "otto.private@example.org")
		in = method.Input{}
		for i := range 3 {
			c, err := e.qs.AddCustom(ctx, map[string]string{"en": "Custom question number " + string(rune('A'+i)) + "?"})
			if err != nil {
				t.Fatal(err)
			}
			in[questions.FieldQuestion(i)], in[questions.FieldAnswer(i)] = c.ID, "answer "+string(rune('a'+i))+" here"
		}
		p, err = e.qs.Begin(ctx, "enroll-otto", ref(only), in)
		if err != nil {
			t.Fatal(err)
		}
		enr, res, err = e.qs.Finish(ctx, "enroll-otto", ref(only), p, nil)
		if err != nil || !res.OK || e.store.Add(ctx, &enr, 0) != nil {
			t.Fatalf("enroll otto: %v %+v", err, res)
		}
		custom, _ := e.qs.Custom(ctx)
		for _, c := range custom {
			if err := e.qs.DeleteCustom(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		b := e.browser()
		fp := b.start("otto", boundRequest)
		b.post(fp, url.Values{"intent": {"reset"}})
		b.choose(fp, "security questions")
		b.must(200, "That method is not available now. Choose another one.")
	})
}
