package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/questions"
)

// policyQuestionsCmd changes the custom security questions through the
// same questions.Method calls as the admin API.
type policyQuestionsCmd struct {
	List   policyQuestionsListCmd   `cmd:"" help:"List the custom questions with their texts per language, as JSON."`
	Add    policyQuestionsAddCmd    `cmd:"" help:"Add a custom question: latchkey policy questions add en='Where was our first office?' de='Wo war unser erstes Büro?'"`
	Edit   policyQuestionsEditCmd   `cmd:"" help:"Replace a custom question's texts (every language given; en is required)."`
	Remove policyQuestionsRemoveCmd `cmd:"" help:"Remove a custom question; users who answered it are asked their other questions, this answer no longer counts."`
}

type policyQuestionsListCmd struct{}

func (c *policyQuestionsListCmd) Run(a *app) error {
	m, err := a.customQuestions()
	if err != nil {
		return err
	}
	qs, err := m.Custom(a.ctx)
	if err != nil {
		return err
	}
	return printJSON(a, qs)
}

type policyQuestionsAddCmd struct {
	Texts []string `arg:"" help:"lang=text pairs, e.g. en='Where was our first office?'." placeholder:"LANG=TEXT"`
}

func (c *policyQuestionsAddCmd) Run(a *app) error {
	m, texts, err := a.questionTexts(c.Texts)
	if err != nil {
		return err
	}
	q, err := m.AddCustom(a.ctx, texts)
	return a.questionDone("admin.question.add", "", q, err)
}

type policyQuestionsEditCmd struct {
	ID    string   `arg:"" help:"The question's ID (see list)."`
	Texts []string `arg:"" help:"lang=text pairs; they replace all of the question's texts." placeholder:"LANG=TEXT"`
}

func (c *policyQuestionsEditCmd) Run(a *app) error {
	m, texts, err := a.questionTexts(c.Texts)
	if err != nil {
		return err
	}
	q, err := m.EditCustom(a.ctx, c.ID, texts)
	return a.questionDone("admin.question.edit", c.ID, q, err)
}

type policyQuestionsRemoveCmd struct {
	ID string `arg:"" help:"The question's ID (see list)."`
}

func (c *policyQuestionsRemoveCmd) Run(a *app) error {
	m, err := a.customQuestions()
	if err != nil {
		return err
	}
	err = m.DeleteCustom(a.ctx, c.ID)
	return a.questionDone("admin.question.remove", c.ID, method.Question{ID: c.ID}, err)
}

func (a *app) customQuestions() (*questions.Method, error) {
	g, err := a.database()
	if err != nil {
		return nil, err
	}
	k, err := a.keyring()
	if err != nil {
		return nil, err
	}
	return questions.New(g, nil, k, nil), nil
}

// questionTexts parses lang=text pairs; a language given twice is a
// usage error.
func (a *app) questionTexts(pairs []string) (*questions.Method, map[string]string, error) {
	texts := map[string]string{}
	for _, p := range pairs {
		lang, text, ok := strings.Cut(p, "=")
		lang = strings.TrimSpace(lang)
		if _, dup := texts[lang]; !ok || dup {
			return nil, nil, usageError{fmt.Errorf("%q: give each language once as lang=text", p)}
		}
		texts[lang] = text
	}
	m, err := a.customQuestions()
	return m, texts, err
}

// questionDone audits the outcome and prints the question, or every
// problem of its texts, one a line.
func (a *app) questionDone(typ, id string, q method.Question, err error) error {
	var inv *questions.InvalidTextsError
	switch {
	case errors.As(err, &inv):
		a.audit(typ, "", "failed", "question="+id+" via=cli")
		msgs := make([]string, len(inv.Problems))
		for i, p := range inv.Problems {
			msgs[i] = p.Field + ": " + p.Message
		}
		return usageError{errors.New(strings.Join(msgs, "\n"))}
	case errors.Is(err, method.ErrNotFound):
		return usageError{fmt.Errorf("no custom question %q (see latchkey policy questions list)", id)}
	case err != nil:
		return err
	}
	a.audit(typ, "", "ok", questions.Detail(q)+" via=cli")
	if typ == "admin.question.remove" {
		_, err := fmt.Fprintln(a.stdout, "removed "+q.ID)
		return err
	}
	return printJSON(a, q)
}
