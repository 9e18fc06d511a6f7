package plugin

import (
	"strconv"

	"github.com/latchkeyid/latchkey/plugin/method"
)

// The questions method's field names (question.I, answer.I); the page
// and the method agree on them, the core does not import the method.
func questionField(i int) string { return "question." + strconv.Itoa(i) }
func answerField(i int) string   { return "answer." + strconv.Itoa(i) }

// invalidFieldKey carries the field a method refused (InvalidError.Field)
// to the add form, which ties the message to that field.
const invalidFieldKey = "sspr.invalid-field"

// questionSlot is one question of the add-questions form. N counts from
// 1 for people; I is the field index (question.I, answer.I).
type questionSlot struct {
	I, N                           int
	Selected, Answer               string
	BadQuestion, BadAnswer, HasErr bool
}

// questionSlots lays out n questions: each list starts on a different
// question (so the first submit is not refused for repeating one), and
// after a refused try every choice and answer typed is kept, the refused
// field marked.
func questionSlots(pool []method.Question, n int, in map[string]string, badField string) []questionSlot {
	known := map[string]bool{}
	for _, q := range pool {
		known[q.ID] = true
	}
	out := make([]questionSlot, n)
	for i := range out {
		sl := questionSlot{I: i, N: i + 1, Answer: in[answerField(i)]}
		if q := in[questionField(i)]; known[q] {
			sl.Selected = q
		} else if len(pool) > 0 {
			sl.Selected = pool[i%len(pool)].ID
		}
		sl.BadQuestion = badField == questionField(i)
		sl.BadAnswer = badField == answerField(i)
		sl.HasErr = sl.BadQuestion || sl.BadAnswer
		out[i] = sl
	}
	return out
}
