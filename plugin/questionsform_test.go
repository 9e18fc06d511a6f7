package plugin_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyid/latchkey/plugin/method/questions"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/provider/providertest/chrometest"
	"github.com/latchkeyid/latchkey/provider/providertest/plugintest"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// questionsForm is what the add-questions page p shows: each select's
// label and chosen question, each answer's label and value.
type questionsForm struct {
	qLabels, chosen, aLabels, answers []string
}

func readQuestionsForm(p *pt.Page) questionsForm {
	var f questionsForm
	for i := range 3 {
		n := string(rune('0' + i))
		f.qLabels = append(f.qLabels, strings.TrimSpace(p.Doc.Find(`label[for="question-`+n+`"]`).Text()))
		v, _ := p.Doc.Find(`select[name="question.` + n + `"] option[selected]`).Attr("value")
		f.chosen = append(f.chosen, v)
		f.aLabels = append(f.aLabels, strings.TrimSpace(p.Doc.Find(`label[for="answer-`+n+`"]`).Text()))
		a, _ := p.Doc.Find(`input[name="answer.` + n + `"]`).Attr("value")
		f.answers = append(f.answers, a)
	}
	return f
}

// TestAddQuestionsForm: the add-questions form numbers its questions
// from 1, starts each list on a different question (the first submit
// with the defaults passes), labels each answer by its question, says
// how answers are compared, and after a refusal names the answer that was
// refused, ties the message to it and keeps every choice and answer.
func TestAddQuestionsForm(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "US", "email", "questions")
		b := x.SignIn(t)
		page := mustPage(t, b.Get(x.Server.URL+"/security-info/add/questions"), "Add Security questions")
		f := readQuestionsForm(page)
		t.Run("labels-count-from-one", func(t *testing.T) {
			for i, want := range []string{"Question 1", "Question 2", "Question 3"} {
				if f.qLabels[i] != want || f.aLabels[i] != "Answer to question "+want[len(want)-1:] {
					t.Errorf("slot %d labelled %q / %q", i, f.qLabels[i], f.aLabels[i])
				}
			}
			if strings.Contains(page.Body, "Question 0") || strings.Contains(page.Body, `>Answer<`) {
				t.Errorf("a label reads Question 0 or a bare Answer")
			}
		})
		t.Run("lists-start-on-different-questions", func(t *testing.T) {
			if f.chosen[0] == "" || f.chosen[0] == f.chosen[1] || f.chosen[1] == f.chosen[2] || f.chosen[0] == f.chosen[2] {
				t.Errorf("preselected questions %v", f.chosen)
			}
		})
		t.Run("says-how-answers-compare", func(t *testing.T) {
			note := page.Text("#answers-note")
			if !strings.Contains(note, "not case sensitive") || !strings.Contains(note, "spelling and spacing must be exact") {
				t.Errorf("note %q", note)
			}
			if d, _ := page.Doc.Find("#answer-0").Attr("aria-describedby"); !strings.Contains(d, "answers-note") {
				t.Errorf("answer not described by the note: %q", d)
			}
		})
		submit := func(p *pt.Page, answers ...string) *pt.Page {
			t.Helper()
			vals := map[string]string{"current_password": pt.Password}
			fp := readQuestionsForm(p)
			for i, a := range answers {
				n := string(rune('0' + i))
				vals["question."+n], vals["answer."+n] = fp.chosen[i], a
			}
			res := b.Submit(p, `form[action="/security-info/add/questions"]`, vals)
			if res.Page == nil {
				t.Fatalf("no page: %s", res)
			}
			return res.Page
		}
		var refused *pt.Page
		t.Run("too-common-names-the-answer-and-keeps-all", func(t *testing.T) {
			refused = submit(page, "Springfield Road", "pizza", "Mr Whiskers")
			if msg := refused.Text("#add-error"); !strings.Contains(msg, "answer to question 2 is too common") {
				t.Fatalf("refusal says %q\n%s", msg, refused.Body)
			}
			g := readQuestionsForm(refused)
			if strings.Join(g.answers, "|") != "Springfield Road|pizza|Mr Whiskers" || strings.Join(g.chosen, "|") != strings.Join(f.chosen, "|") {
				t.Errorf("after the refusal: answers %q, questions %v (want %v)", g.answers, g.chosen, f.chosen)
			}
			a := refused.Doc.Find("#answer-1")
			if inv, _ := a.Attr("aria-invalid"); inv != "true" || !strings.Contains(a.AttrOr("aria-describedby", ""), "add-error") {
				t.Errorf("the refused answer is not marked: %v %q", inv, a.AttrOr("aria-describedby", ""))
			}
			if _, bad := refused.Doc.Find("#answer-0").Attr("aria-invalid"); bad {
				t.Errorf("a good answer is marked invalid")
			}
		})
		t.Run("defaults-pass-first-time", func(t *testing.T) {
			done := submit(refused, "Springfield Road", "Lasagne al forno", "Mr Whiskers")
			if !strings.Contains(done.Body, "3 security questions") {
				t.Fatalf("the questions were not added:\n%s", done.Body)
			}
		})
	})
}

// TestBrowserAddQuestionsLongText: in headless Chromium, a long question
// chosen in a list is shown in full under it (questions.js), wrapped
// within the card and not cut off; the form works by typing and Next.
func TestBrowserAddQuestionsLongText(t *testing.T) {
	x := startAll(t, dbtest.URL(t, dbtest.SQLite), "US", "email", "questions")
	br := chrometest.Start(t, chrometest.Trust(x.Server.HTTP.Certificate()))
	tab := br.NewDevice()
	tab.Go(x.Server.URL + "/security-info")
	tab.WaitText("h1", "Sign in")
	tab.Type("#username", pt.Username)
	tab.Type("#password", pt.Password)
	tab.Keys("\r")
	tab.WaitText("main", "Add sign-in method")
	tab.Go(x.Server.URL + "/security-info/add/questions")
	tab.WaitText("h1", "Add Security questions")

	const long = "What is your oldest sibling's birthday month and year (for example, November 1985)?"
	ok := chrometest.Eval[bool](tab, `(function(){var s=document.getElementById("question-1");
	  for (var i=0;i<s.options.length;i++){ if (s.options[i].text===`+jsString(long)+`){ s.selectedIndex=i; s.dispatchEvent(new Event("change")); return true } }
	  return false })()`)
	if !ok {
		t.Fatal("the long question is not in the list")
	}
	full := tab.Text("#question-1-text")
	if full != long {
		t.Errorf("full text shown %q, want %q", full, long)
	}
	if fits := chrometest.Eval[bool](tab, `(function(){var e=document.getElementById("question-1-text");var r=e.getBoundingClientRect();var m=document.querySelector("main").getBoundingClientRect();
	  return e.scrollWidth<=e.clientWidth && r.right<=m.right && r.height>0})()`); !fits {
		t.Error("the full question is cut off or overflows the card")
	}
	tab.Type("#answer-0", "Springfield Road")
	tab.Type("#answer-1", "November 1985")
	tab.Type("#answer-2", "Mr Whiskers")
	tab.Type("#current-password", pt.Password)
	tab.Keys("\r")
	tab.WaitText("main", "3 security questions")
	tab.NoProblems()
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// TestQuestionsInGerman: the built-in questions are asked in the page's
// language, when they are chosen and when they are answered at step-up.
func TestQuestionsInGerman(t *testing.T) {
	de, _ := i18n.For("de")
	x := startAll(t, dbtest.URL(t, dbtest.SQLite), "US", "email", "questions")
	b := x.SignIn(t)
	page := mustPage(t, b.Get(x.Server.URL+"/security-info/add/questions?lang=de"), `name="question.0"`)
	opts := page.Doc.Find(`select[name="question.0"] option`)
	if opts.Length() != len(questions.Pool) {
		t.Fatalf("%d questions offered, want %d", opts.Length(), len(questions.Pool))
	}
	for i, q := range questions.Pool {
		if got, want := strings.TrimSpace(opts.Eq(i).Text()), de.T(q.Key); got != want || got == q.Text {
			t.Errorf("question %s offered as %q, want %q", q.ID, got, want)
		}
	}
	f := readQuestionsForm(page)
	vals := map[string]string{"current_password": pt.Password}
	for i, a := range []string{"Springfield Road", "Lasagne al forno", "Mr Whiskers"} {
		n := string(rune('0' + i))
		vals["question."+n], vals["answer."+n] = f.chosen[i], a
	}
	mustPage(t, b.Submit(page, `form[action="/security-info/add/questions"]`, vals), "<h1")

	// A later visit steps up with the questions, asked in German.
	ask := stepUpInGerman(t, x)
	labels := ask.Doc.Find(`label[for^="answer-"]`)
	if labels.Length() == 0 {
		t.Fatalf("no questions asked:\n%s", ask.Body)
	}
	for i := range labels.Length() {
		got := strings.TrimSpace(labels.Eq(i).Text())
		german := false
		for _, q := range questions.Pool {
			german = german || got == de.T(q.Key)
			if got == q.Text {
				t.Errorf("asked in English: %q", got)
			}
		}
		if !german {
			t.Errorf("asked %q, not one of the German questions", got)
		}
	}
}

// TestCustomQuestionInGerman: a custom question with a German text is
// offered and asked in German to a German reader, and in English (its
// default text) to an English one.
func TestCustomQuestionInGerman(t *testing.T) {
	dbtestEach(t, func(t *testing.T, dbURL string) {
		x := startAll(t, dbURL, "US", "email", "questions")
		ctx := t.Context()
		pol, err := x.Policy.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pol.QuestionsAsk = 3 // every registered question is asked
		if err := x.Policy.Set(ctx, pol); err != nil {
			t.Fatal(err)
		}
		const en, de = "Where was our first office?", "Wo war unser erstes Büro?"
		q, err := questions.New(x.Server.DB, nil, x.Server.Keyring, nil).AddCustom(ctx, map[string]string{"en": en, "de": de})
		if err != nil {
			t.Fatal(err)
		}
		b := x.SignIn(t)
		page := mustPage(t, b.Get(x.Server.URL+"/security-info/add/questions?lang=de"), `name="question.0"`)
		if got := strings.TrimSpace(page.Doc.Find(`select[name="question.0"] option[value="` + q.ID + `"]`).Text()); got != de {
			t.Fatalf("custom question offered as %q, want %q", got, de)
		}
		vals := map[string]string{"current_password": pt.Password, "question.0": q.ID, "answer.0": "Hauptstraße 12",
			"question.1": "b01", "answer.1": "Springfield Road", "question.2": "b12", "answer.2": "Mr Whiskers"}
		mustPage(t, b.Submit(page, `form[action="/security-info/add/questions"]`, vals), "<h1")
		if enPage := mustPage(t, b.Get(x.Server.URL+"/security-info/add/questions?lang=en"), `name="question.0"`); !strings.Contains(enPage.Body, en) {
			t.Error("the English page does not offer the English text")
		}

		ask := stepUpInGerman(t, x)
		var asked []string
		labels := ask.Doc.Find(`label[for^="answer-"]`)
		for i := range labels.Length() {
			asked = append(asked, strings.TrimSpace(labels.Eq(i).Text()))
		}
		if !slices.Contains(asked, de) || strings.Contains(ask.Body, en) {
			t.Fatalf("step-up asks %v, want the German custom text", asked)
		}
	})
}

// stepUpInGerman signs in anew past the first-registration window and
// chooses the questions row of the German step-up page: the page that
// asks them.
func stepUpInGerman(t *testing.T, x *plugintest.Env) *pt.Page {
	t.Helper()
	de, _ := i18n.For("de")
	b := x.SignIn(t)
	x.Server.Clock.Advance(11 * time.Minute) // past the first-registration window
	info := mustPage(t, b.Get(x.Server.URL+"/security-info?lang=de"), "<form")
	var id string
	sel := info.Doc.Find(`input[name="enrollment"]`)
	for i := range sel.Length() {
		if strings.Contains(sel.Eq(i).Parent().Text(), de.T("method.row.questions")) {
			id = sel.Eq(i).AttrOr("value", "")
		}
	}
	if id == "" {
		t.Fatalf("no questions row on the step-up page:\n%s", info.Body)
	}
	return mustPage(t, b.Submit(info, "form", map[string]string{"enrollment": id}), `name="answer.0"`)
}
