package questions

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/ui/i18n"
)

// DefaultLang is the language whose text every custom question needs; a
// reader whose language has no text sees this one.
const DefaultLang = "en"

// MinQuestion is the fewest characters of an admin-defined question.
const MinQuestion = 5

// customRow is the live model of sspr_custom_questions; Text is the
// default language's text.
type customRow struct {
	ID        string    `gorm:"primaryKey;size:32"`
	Text      string    `gorm:"size:400;not null"`
	CreatedAt time.Time `gorm:"precision:6;not null"`
	// Slot (1..MaxCustom, unique) is what an add claims, so the limit
	// holds however many admins add at once.
	Slot int
}

func (customRow) TableName() string { return "sspr_custom_questions" }

// textRow is the live model of sspr_custom_question_texts.
type textRow struct {
	QuestionID string `gorm:"primaryKey;size:32"`
	Lang       string `gorm:"primaryKey;size:16"`
	Text       string `gorm:"size:400;not null"`
	TextKey    string `gorm:"size:64;not null"` // unique per language
}

// textKey is what the unique index on (lang, text_key) compares: two
// custom questions never share a text in one language, even when added at
// the same moment.
func textKey(text string) string {
	sum := sha256.Sum256([]byte(Normalize(text)))
	return hex.EncodeToString(sum[:])
}

func (textRow) TableName() string { return "sspr_custom_question_texts" }

// ErrTooManyCustom means MaxCustom questions exist already.
var ErrTooManyCustom = errors.New("questions: at most 20 custom questions")

// Problem is one problem of a custom question's texts; Field is
// "texts.<lang>" (or "texts").
type Problem struct{ Field, Message string }

// InvalidTextsError lists every problem of a custom question's texts.
type InvalidTextsError struct{ Problems []Problem }

func (e *InvalidTextsError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Field + ": " + p.Message
	}
	return "questions: " + strings.Join(msgs, "; ")
}

// Custom lists the admin-defined questions, oldest first, each with its
// texts per language.
func (m *Method) Custom(ctx context.Context) ([]method.Question, error) {
	var rows []customRow
	if err := m.g.WithContext(ctx).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("questions: custom: %w", err)
	}
	var texts []textRow
	if err := m.g.WithContext(ctx).Find(&texts).Error; err != nil {
		return nil, fmt.Errorf("questions: custom: %w", err)
	}
	byID := map[string]map[string]string{}
	for _, t := range texts {
		if byID[t.QuestionID] == nil {
			byID[t.QuestionID] = map[string]string{}
		}
		byID[t.QuestionID][t.Lang] = t.Text
	}
	out := make([]method.Question, len(rows))
	for i, r := range rows {
		ts := byID[r.ID]
		if ts == nil {
			ts = map[string]string{DefaultLang: r.Text}
		}
		out[i] = method.Question{ID: r.ID, Text: r.Text, Texts: ts}
	}
	return out, nil
}

// Check lists every problem of texts for the custom question id ("" for a
// new one): a missing default text, an unknown language, an empty,
// multi-line, too short or too long text, and a text that repeats a
// built-in question or another custom one in the same language.
func (m *Method) Check(ctx context.Context, id string, texts map[string]string) ([]Problem, error) {
	others, err := m.Custom(ctx)
	if err != nil {
		return nil, err
	}
	var out []Problem
	if strings.TrimSpace(texts[DefaultLang]) == "" {
		out = append(out, Problem{"texts." + DefaultLang, "the default language's text is required"})
	}
	for _, lang := range sortedKeys(texts) {
		field, text := "texts."+lang, strings.TrimSpace(texts[lang])
		if !known(lang) {
			out = append(out, Problem{field, fmt.Sprintf("unknown language %q (known: %s)", lang, strings.Join(tags(), ", "))})
			continue
		}
		n := utf8.RuneCountInString(text)
		switch {
		case n == 0:
			if lang != DefaultLang { // the default's absence is reported above
				out = append(out, Problem{field, "is empty"})
			}
			continue
		case strings.ContainsAny(text, "\r\n"):
			out = append(out, Problem{field, "must be one line"})
		case n < MinQuestion:
			out = append(out, Problem{field, fmt.Sprintf("is too short (%d characters, at least %d)", n, MinQuestion)})
		case n > MaxQuestion:
			out = append(out, Problem{field, fmt.Sprintf("is too long (%d characters, at most %d)", n, MaxQuestion)})
		}
		if dup := duplicate(lang, text, id, others); dup != "" {
			out = append(out, Problem{field, "repeats question " + dup})
		}
	}
	return out, nil
}

// duplicate names the built-in or other custom question whose text in
// lang is text (after normalisation), or "".
func duplicate(lang, text, self string, others []method.Question) string {
	l, _ := i18n.For(lang)
	want := Normalize(text)
	for _, q := range Pool {
		if Normalize(l.T(q.Key)) == want {
			return q.ID + " (built-in)"
		}
	}
	for _, q := range others {
		if q.ID != self && Normalize(q.Texts[lang]) == want {
			return q.ID
		}
	}
	return ""
}

func known(lang string) bool { return slices.Contains(tags(), lang) }

func tags() []string {
	var out []string
	for _, l := range i18n.Languages() {
		out = append(out, l.Tag)
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checked returns texts trimmed, or an *InvalidTextsError.
func (m *Method) checked(ctx context.Context, id string, texts map[string]string) (map[string]string, error) {
	problems, err := m.Check(ctx, id, texts)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, &InvalidTextsError{Problems: problems}
	}
	out := map[string]string{}
	for k, v := range texts {
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

// AddCustom adds an admin-defined question with its texts per language.
// It claims the lowest free slot: of parallel adds for one slot the unique
// index lets one win and the others take the next, so there are never more
// than MaxCustom; a text that another add took meanwhile is refused by the
// unique index on (lang, text_key).
func (m *Method) AddCustom(ctx context.Context, texts map[string]string) (method.Question, error) {
	texts, err := m.checked(ctx, "", texts)
	if err != nil {
		return method.Question{}, err
	}
	r := customRow{ID: "c" + strings.ToLower(rand.Text())[:16], Text: texts[DefaultLang], CreatedAt: m.now().UTC()}
	for range 2 * MaxCustom {
		var used []int
		if err := m.g.WithContext(ctx).Model(&customRow{}).Order("slot").Pluck("slot", &used).Error; err != nil {
			return method.Question{}, fmt.Errorf("questions: add custom: %w", err)
		}
		if r.Slot = freeSlot(used); r.Slot == 0 {
			return method.Question{}, ErrTooManyCustom
		}
		err = m.g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Create(&r).Error; err != nil {
				return errSlotTaken{err}
			}
			return writeTexts(tx, r.ID, texts)
		})
		var taken errSlotTaken
		switch {
		case err == nil:
			return method.Question{ID: r.ID, Text: r.Text, Texts: texts}, nil
		case errors.As(err, &taken) && (errors.Is(err, gorm.ErrDuplicatedKey) || db.Conflict(err)):
			continue // another add took the slot: look again
		case errors.Is(err, gorm.ErrDuplicatedKey):
			return method.Question{}, m.raced(ctx, "", texts)
		default:
			return method.Question{}, fmt.Errorf("questions: add custom: %w", err)
		}
	}
	return method.Question{}, fmt.Errorf("questions: add custom: no free slot after %d tries", 2*MaxCustom)
}

// errSlotTaken marks the failure of the slot's INSERT (not of the texts').
type errSlotTaken struct{ error }

func (e errSlotTaken) Unwrap() error { return e.error }

// freeSlot is the lowest slot of 1..MaxCustom not in used (sorted), or 0.
func freeSlot(used []int) int {
	next := 1
	for _, s := range used {
		if s == next {
			next++
		}
	}
	if next > MaxCustom {
		return 0
	}
	return next
}

// raced reports a text that a parallel add or edit took after the check:
// the check again names it, or, failing that, every language's text.
func (m *Method) raced(ctx context.Context, id string, texts map[string]string) error {
	if problems, err := m.Check(ctx, id, texts); err == nil && len(problems) > 0 {
		return &InvalidTextsError{Problems: problems}
	}
	return &InvalidTextsError{Problems: []Problem{{"texts", "repeats a question added at the same moment"}}}
}

// EditCustom replaces the texts of an admin-defined question. Enrollments
// that use it are asked the new texts (their answers stay).
func (m *Method) EditCustom(ctx context.Context, id string, texts map[string]string) (method.Question, error) {
	texts, err := m.checked(ctx, id, texts)
	if err != nil {
		return method.Question{}, err
	}
	err = m.g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&customRow{}).Where("id = ?", id).Update("text", texts[DefaultLang])
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			var n int64
			if err := tx.Model(&customRow{}).Where("id = ?", id).Count(&n).Error; err != nil || n == 0 {
				return errors.Join(err, method.ErrNotFound)
			}
		}
		if err := tx.Where("question_id = ?", id).Delete(&textRow{}).Error; err != nil {
			return err
		}
		return writeTexts(tx, id, texts)
	})
	switch {
	case errors.Is(err, method.ErrNotFound):
		return method.Question{}, method.ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return method.Question{}, m.raced(ctx, id, texts)
	case err != nil:
		return method.Question{}, fmt.Errorf("questions: edit custom: %w", err)
	}
	return method.Question{ID: id, Text: texts[DefaultLang], Texts: texts}, nil
}

func writeTexts(tx *gorm.DB, id string, texts map[string]string) error {
	rows := make([]textRow, 0, len(texts))
	for _, lang := range sortedKeys(texts) {
		rows = append(rows, textRow{QuestionID: id, Lang: lang, Text: texts[lang], TextKey: textKey(texts[lang])})
	}
	return tx.Create(&rows).Error
}

// DeleteCustom removes an admin-defined question. A user who answered it
// keeps the enrollment, but that answer no longer counts: the question is
// never asked again, and recovery asks from the user's other questions.
func (m *Method) DeleteCustom(ctx context.Context, id string) error {
	var affected int64
	err := m.g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("question_id = ?", id).Delete(&textRow{}).Error; err != nil {
			return err
		}
		res := tx.Where("id = ?", id).Delete(&customRow{})
		affected = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return fmt.Errorf("questions: delete custom: %w", err)
	}
	if affected == 0 {
		return method.ErrNotFound
	}
	return nil
}

// live keeps the items of st whose question still exists (built-in ones
// always do), with the current texts of custom ones.
func (m *Method) live(ctx context.Context, st stored) (stored, map[string]method.Question, error) {
	custom, err := m.Custom(ctx)
	if err != nil {
		return stored{}, nil, err
	}
	byID := map[string]method.Question{}
	for _, q := range custom {
		byID[q.ID] = q
	}
	out := stored{ID: st.ID}
	qs := map[string]method.Question{}
	for _, it := range st.Items {
		q, ok := byID[it.ID]
		if builtinID(it.ID) {
			q, ok = method.Question{ID: it.ID, Text: it.Text}, true
		}
		if ok {
			out.Items = append(out.Items, it)
			qs[it.ID] = q
		}
	}
	return out, qs, nil
}

// builtinID says whether id names a built-in question (b01 … b37).
func builtinID(id string) bool {
	return slices.ContainsFunc(Pool[:], func(q struct{ ID, Key, Text string }) bool { return q.ID == id })
}

// Detail is q as an audit detail: "question=<id> languages=de,en".
func Detail(q method.Question) string {
	d := "question=" + q.ID
	if len(q.Texts) > 0 {
		d += " languages=" + strings.Join(sortedKeys(q.Texts), ",")
	}
	return d
}
