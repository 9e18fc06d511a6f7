package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/questions"
	"github.com/latchkeyid/latchkey/provider/audit"
	pt "github.com/latchkeyid/latchkey/provider/providertest"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// storedQuestions are the custom questions as the store holds them now.
func (e *consoleEnv) storedQuestions(t *testing.T) []method.Question {
	t.Helper()
	s := e.x.Server
	qs, err := questions.New(s.DB, nil, s.Keyring, nil).Custom(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return qs
}

// okEvents are the successful audit records of typ, each checked to name
// the admin and an IP.
func (e *consoleEnv) okEvents(t *testing.T, typ string) []audit.Event {
	t.Helper()
	var ok []audit.Event
	for _, ev := range e.x.Server.AuditEvents(t, typ) {
		if ev.Outcome != "ok" {
			continue
		}
		if ev.UserID != e.admin.ID || ev.IP == "" {
			t.Errorf("%s recorded without the admin's id and IP: %+v", typ, ev)
		}
		ok = append(ok, ev)
	}
	return ok
}

// The policy page's custom questions are added, edited and removed
// through the admin API: stored, audited with the admin's id, every
// problem beside its language's box at once, a removal confirmed with
// what it means for answers given, and a form without the session's
// CSRF token refused.
func TestConsoleQuestions(t *testing.T) {
	eachConsole(t, func(t *testing.T, e *consoleEnv, b *pt.Browser) {
		s := e.x.Server
		policyPage := e.page(t, b, "/admin/policy")
		if policyPage.Doc.Find("#custom-questions-none").Length() == 0 {
			t.Fatalf("a fresh server lists custom questions: %s", policyPage.Text("main"))
		}
		addHref := policyPage.Doc.Find("#question-add").AttrOr("href", "")
		form := e.page(t, b, addHref)
		if n := form.Doc.Find(`#question-form input[type="text"]`).Length(); n != len(i18n.Languages()) {
			t.Fatalf("%d text boxes, want one per language (%d)", n, len(i18n.Languages()))
		}

		t.Run("every-problem-at-once", func(t *testing.T) {
			de, _ := i18n.For("de")
			builtIn := de.T(questions.Pool[0].Key)
			r := b.Submit(form, "#question-form", map[string]string{"text_en": " ", "text_de": builtIn})
			if r.Page == nil || r.Page.Status != http.StatusBadRequest {
				t.Fatalf("want 400, got %s", r)
			}
			for _, f := range []string{"text_en", "text_de"} {
				if r.Page.Doc.Find("#err-"+f).Length() == 0 || r.Page.Doc.Find("#"+f+`[aria-invalid="true"]`).Length() == 0 {
					t.Errorf("no problem beside %s:\n%s", f, r.Page.Text("main"))
				}
			}
			if !strings.Contains(r.Page.Text("#err-text_de"), "built-in") {
				t.Errorf("the duplicate is not named: %q", r.Page.Text("#err-text_de"))
			}
			if got := r.Page.Doc.Find("#text_de").AttrOr("value", ""); got != builtIn {
				t.Errorf("the refused form lost what was typed: %q", got)
			}
			if qs := e.storedQuestions(t); len(qs) != 0 {
				t.Fatalf("a refused form stored %+v", qs)
			}
		})

		form = e.page(t, b, addHref) // a fresh form: the refused one's key would replay its refusal
		r := b.Submit(form, "#question-form", map[string]string{"text_en": "Where was our first office?", "text_de": "Wo war unser erstes Büro?"})
		if r.Page == nil || r.Page.URL.RequestURI() != "/admin/policy?done=question_added" || r.Page.Doc.Find("#notice").Length() == 0 {
			t.Fatalf("add: %s", r)
		}
		qs := e.storedQuestions(t)
		if len(qs) != 1 || qs[0].Texts["en"] != "Where was our first office?" || qs[0].Texts["de"] != "Wo war unser erstes Büro?" {
			t.Fatalf("stored: %+v", qs)
		}
		id := qs[0].ID
		if got := r.Page.Text(`#q-` + id + ` li[lang="de"]`); !strings.Contains(got, "Wo war unser erstes Büro?") {
			t.Errorf("the policy page does not list the German text: %q", got)
		}
		if evs := e.okEvents(t, "admin.question.add"); len(evs) != 1 || !strings.Contains(evs[0].Detail, "languages=de,en") {
			t.Fatalf("audit of the add: %+v", evs)
		}
		// The same form sent again (a double click, a reload) adds nothing.
		if again := b.Submit(form, "#question-form", map[string]string{"text_en": "Where was our first office?"}); again.Page == nil ||
			len(e.storedQuestions(t)) != 1 {
			t.Fatalf("resent add: %s, %d questions", again, len(e.storedQuestions(t)))
		}

		t.Run("csrf-less-post-refused", func(t *testing.T) {
			for _, path := range []string{"/admin/policy/questions/new", "/admin/policy/questions/" + id + "/edit", "/admin/policy/questions/" + id + "/delete"} {
				r := b.Navigate(http.MethodPost, s.URL+path, url.Values{"text_en": {"A forged question here?"}})
				if r.Page == nil || r.Page.Status != http.StatusForbidden || !strings.Contains(r.Page.Body, "nothing was changed") {
					t.Fatalf("%s: want the refusal page, got %s", path, r)
				}
			}
			if qs := e.storedQuestions(t); len(qs) != 1 || qs[0].Texts["en"] != "Where was our first office?" {
				t.Fatalf("a forged form changed the questions: %+v", qs)
			}
		})

		t.Run("edit", func(t *testing.T) {
			edit := e.page(t, b, policyPage.URL.Path+"/questions/"+id+"/edit")
			if got := edit.Doc.Find("#text_de").AttrOr("value", ""); got != "Wo war unser erstes Büro?" {
				t.Fatalf("the edit form shows de=%q", got)
			}
			r := b.Submit(edit, "#question-form", map[string]string{"text_en": "In which town was our first office?", "text_de": "",
				"text_fr": "Dans quelle ville était notre premier bureau ?"})
			if r.Page == nil || r.Page.URL.RequestURI() != "/admin/policy?done=question_saved" {
				t.Fatalf("edit: %s", r)
			}
			q := e.storedQuestions(t)[0]
			if q.Texts["en"] != "In which town was our first office?" || q.Texts["de"] != "" || q.Texts["fr"] == "" {
				t.Fatalf("stored after the edit: %+v", q.Texts)
			}
			if evs := e.okEvents(t, "admin.question.edit"); len(evs) != 1 || !strings.Contains(evs[0].Detail, id) {
				t.Fatalf("audit of the edit: %+v", evs)
			}
			if r := b.Get(s.URL + "/admin/policy/questions/c0000000000000000/edit"); r.Page == nil || r.Page.Status != http.StatusNotFound {
				t.Errorf("an unknown question: %s", r)
			}
		})

		t.Run("unknown-or-forged-id", func(t *testing.T) {
			csrf := e.page(t, b, "/admin/policy").Doc.Find(`#policy-form input[name="csrf"]`).AttrOr("value", "")
			for i, forged := range []string{"c0000000000000000", "..%2F..%2Fapps", "%2e%2e", strings.Repeat("c", 300)} {
				for _, act := range []string{"/edit", "/delete"} {
					r := b.Navigate(http.MethodPost, s.URL+"/admin/policy/questions/"+forged+act,
						url.Values{"csrf": {csrf}, "idem": {fmt.Sprintf("forged-%d%s", i, act)}, "text_en": {"A forged question here?"}})
					if r.Page == nil || r.Page.Status != http.StatusNotFound {
						t.Errorf("%s%s: want 404, got %s", forged, act, r)
					}
				}
			}
			if qs := e.storedQuestions(t); len(qs) != 1 || qs[0].Texts["en"] != "In which town was our first office?" {
				t.Fatalf("a forged ID changed the questions: %+v", qs)
			}
		})

		t.Run("remove", func(t *testing.T) {
			list := e.page(t, b, "/admin/policy")
			confirm := e.page(t, b, list.Doc.Find("#q-remove-"+id).AttrOr("href", ""))
			if !strings.Contains(confirm.Text("#question-remove-warning"), "stop counting") {
				t.Errorf("the confirmation does not say answers stop counting: %q", confirm.Text("main"))
			}
			r := b.Submit(confirm, "#question-delete-form", nil)
			if r.Page == nil || r.Page.URL.RequestURI() != "/admin/policy?done=question_removed" || r.Page.Doc.Find("#custom-questions-none").Length() == 0 {
				t.Fatalf("remove: %s", r)
			}
			if qs := e.storedQuestions(t); len(qs) != 0 {
				t.Fatalf("stored after the removal: %+v", qs)
			}
			// The confirmation sent again (a double click) answers as the
			// first did and removes, and records, nothing more.
			if again := b.Submit(confirm, "#question-delete-form", nil); again.Page == nil ||
				again.Page.URL.RequestURI() != "/admin/policy?done=question_removed" {
				t.Fatalf("resent removal: %s", again)
			}
			if evs := e.okEvents(t, "admin.question.remove"); len(evs) != 1 || !strings.Contains(evs[0].Detail, id) {
				t.Fatalf("audit of the removal: %+v", evs)
			}
		})
	})
}
