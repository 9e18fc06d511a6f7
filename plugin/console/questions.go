package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/admin"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// questionRoutes add, edit and remove the custom security questions
// through the admin API; the policy page lists them and links here.
func (k *Console) questionRoutes() []route {
	return []route{
		{http.MethodGet, "/policy/questions/new", k.questionNew},
		{http.MethodPost, "/policy/questions/new", k.questionAdd},
		{http.MethodGet, "/policy/questions/:id/edit", k.questionEdit},
		{http.MethodPost, "/policy/questions/:id/edit", k.questionSave},
		{http.MethodGet, "/policy/questions/:id/delete", k.questionDeleteConfirm},
		{http.MethodPost, "/policy/questions/:id/delete", k.questionDelete},
	}
}

var errNoSuchQuestion = &web.PageError{Status: http.StatusNotFound, Title: "consoleops.question.missing_title",
	Message: "consoleops.question.missing", Link: Path + "/policy", LinkText: "consoleops.nav.policy"}

// questionText is one language's text box of the question form.
type questionText struct {
	Field, Lang, Name, Text string
}

// textField is the form field of a language's text ("text_de"); the API
// names it "translations.de".
func textField(lang string) string { return "text_" + lang }

// questionForm is the texts as typed, one box per supported language.
func questionForm(texts map[string]string) []questionText {
	var out []questionText
	for _, l := range i18n.Languages() {
		out = append(out, questionText{Field: textField(l.Tag), Lang: l.Tag, Name: l.Name, Text: texts[l.Tag]})
	}
	return out
}

// readQuestionForm is the texts sent; an empty box other than English's
// is no translation, so it is left out rather than refused.
func readQuestionForm(c echo.Context) map[string]string {
	out := map[string]string{}
	for _, l := range i18n.Languages() {
		t := strings.TrimSpace(c.Request().PostFormValue(textField(l.Tag)))
		if t != "" || l.Tag == "en" {
			out[l.Tag] = t
		}
	}
	return out
}

// questionProblems moves the API's "translations.<lang>" problems beside
// their boxes.
func questionProblems(p *problems) *problems {
	shown := []string{}
	for _, l := range i18n.Languages() {
		if msgs, ok := p.Fields["translations."+l.Tag]; ok {
			p.Fields[textField(l.Tag)] = msgs
			delete(p.Fields, "translations."+l.Tag)
		}
		shown = append(shown, textField(l.Tag))
	}
	return p.claim(shown...)
}

func questionPath(id string) string { return Path + "/policy/questions/" + url.PathEscape(id) }

func (k *Console) renderQuestionForm(c echo.Context, s *session, status int, id string, texts map[string]string, p *problems) error {
	action := Path + "/policy/questions/new"
	if id != "" {
		action = questionPath(id) + "/edit"
	}
	return k.render(c, status, "admin-question-form", s, map[string]any{"Section": "policy", "ID": id,
		"Texts": questionForm(texts), "Problems": p, "Action": action, "Back": Path + "/policy"})
}

// customQuestion finds a custom question in the policy's view (the API
// lists them there), or errNoSuchQuestion.
func (k *Console) customQuestion(c echo.Context, s *session, id string) (admin.CustomQuestion, error) {
	v, _, err := k.readPolicy(c, s)
	if err != nil {
		return admin.CustomQuestion{}, err
	}
	for _, q := range v.CustomQuestions {
		if q.ID == id {
			return q, nil
		}
	}
	return admin.CustomQuestion{}, errNoSuchQuestion
}

func (k *Console) questionNew(c echo.Context, s *session) error {
	return k.renderQuestionForm(c, s, http.StatusOK, "", nil, nil)
}

func (k *Console) questionEdit(c echo.Context, s *session) error {
	q, err := k.customQuestion(c, s, c.Param("id"))
	if err != nil {
		return err
	}
	return k.renderQuestionForm(c, s, http.StatusOK, q.ID, q.Translations, nil)
}

// questionWrite sends the form's texts to path with method; a refusal is
// the form again, its problems beside their boxes.
func (k *Console) questionWrite(c echo.Context, s *session, method, path, id, done string) error {
	texts := readQuestionForm(c)
	p, err := k.api.do(c.Request().Context(), s, call{method: method, path: path, idem: c.Request().PostFormValue("idem"),
		in: admin.QuestionTexts{Translations: texts}, missing: errNoSuchQuestion})
	if err != nil {
		return err
	}
	if p != nil {
		return k.renderQuestionForm(c, s, http.StatusBadRequest, id, texts, questionProblems(p))
	}
	return see(c, Path+"/policy?done="+done)
}

func (k *Console) questionAdd(c echo.Context, s *session) error {
	return k.questionWrite(c, s, http.MethodPost, "/policy/questions", "", "question_added")
}

func (k *Console) questionSave(c echo.Context, s *session) error {
	id := c.Param("id")
	return k.questionWrite(c, s, http.MethodPut, "/policy/questions/"+url.PathEscape(id), id, "question_saved")
}

func (k *Console) renderQuestionDelete(c echo.Context, s *session, status int, q admin.CustomQuestion, p *problems) error {
	return k.render(c, status, "admin-question-delete", s, map[string]any{"Section": "policy", "Question": q,
		"Problems": p, "Action": questionPath(q.ID) + "/delete", "Back": Path + "/policy"})
}

func (k *Console) questionDeleteConfirm(c echo.Context, s *session) error {
	q, err := k.customQuestion(c, s, c.Param("id"))
	if err != nil {
		return err
	}
	return k.renderQuestionDelete(c, s, http.StatusOK, q, nil)
}

func (k *Console) questionDelete(c echo.Context, s *session) error {
	id := c.Param("id")
	p, err := k.api.do(c.Request().Context(), s, call{method: http.MethodDelete, path: "/policy/questions/" + url.PathEscape(id),
		idem: c.Request().PostFormValue("idem"), missing: errNoSuchQuestion})
	if err != nil {
		return err
	}
	if p != nil {
		return k.renderQuestionDelete(c, s, http.StatusBadRequest, admin.CustomQuestion{ID: id}, p.claim())
	}
	return see(c, Path+"/policy?done=question_removed")
}
