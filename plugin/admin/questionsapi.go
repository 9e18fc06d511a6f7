package admin

import (
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/method/questions"
)

// QuestionTexts is the body of adding or editing a custom question: its
// text per language tag; the default language's ("en") is required.
type QuestionTexts struct {
	Translations map[string]string `json:"translations"`
}

func customView(q method.Question) CustomQuestion {
	return CustomQuestion{ID: q.ID, Text: q.Text, Translations: q.Texts}
}

// questionRoutes add, edit and remove the custom security questions.
func (a *API) questionRoutes() []route {
	return []route{
		{http.MethodPost, "/policy/questions", a.addQuestion},
		{http.MethodPut, "/policy/questions/{id}", a.editQuestion},
		{http.MethodDelete, "/policy/questions/{id}", a.removeQuestion},
	}
}

func (a *API) addQuestion(c echo.Context) error {
	var in QuestionTexts
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	q, err := a.d.Ops.Questions.AddCustom(c.Request().Context(), in.Translations)
	if err != nil {
		return a.questionErr(c, "admin.question.add", "", err)
	}
	if err := a.record(c, "admin.question.add", "ok", questions.Detail(q)); err != nil {
		return err
	}
	c.Response().Header().Set("Location", Prefix+"/policy/questions/"+q.ID)
	return c.JSON(http.StatusCreated, customView(q))
}

func (a *API) editQuestion(c echo.Context) error {
	var in QuestionTexts
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	id := questionID(c)
	q, err := a.d.Ops.Questions.EditCustom(c.Request().Context(), id, in.Translations)
	if err != nil {
		return a.questionErr(c, "admin.question.edit", id, err)
	}
	if err := a.record(c, "admin.question.edit", "ok", questions.Detail(q)); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, customView(q))
}

func (a *API) removeQuestion(c echo.Context) error {
	id := questionID(c)
	if err := a.d.Ops.Questions.DeleteCustom(c.Request().Context(), id); err != nil {
		return a.questionErr(c, "admin.question.remove", id, err)
	}
	if err := a.record(c, "admin.question.remove", "ok", "question="+id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// questionErr audits a refused change and turns err into its problem:
// every problem of the texts at once, a 404, or a 409 at the limit.
func (a *API) questionErr(c echo.Context, typ, id string, err error) error {
	var inv *questions.InvalidTextsError
	switch {
	case errors.As(err, &inv):
		errs := make([]FieldError, len(inv.Problems))
		for i, p := range inv.Problems {
			errs[i] = FieldError{"translations" + strings.TrimPrefix(p.Field, "texts"), p.Message}
		}
		_ = a.record(c, typ, "failed", strings.TrimSpace("question="+id+" fields="+fieldNames(errs)))
		return invalidFields("the question has problems", errs...)
	case errors.Is(err, method.ErrNotFound):
		_ = a.record(c, typ, "failed", "question="+id+" not_found")
		return notFound("no custom question " + id)
	case errors.Is(err, questions.ErrTooManyCustom):
		_ = a.record(c, typ, "failed", "too_many")
		return newProblem(http.StatusConflict, typeConflict, "there are 20 custom questions already; remove one first")
	}
	return err
}

// customID is the shape of a custom question's ID.
var customID = regexp.MustCompile(`^c[a-z0-9]{16}$`)

// questionID is the path's question ID, or "-" (found nowhere) when it
// is not shaped like one, so audit details and problems never carry
// arbitrary text.
func questionID(c echo.Context) string {
	if id := c.Param("id"); customID.MatchString(id) {
		return id
	}
	return "-"
}
