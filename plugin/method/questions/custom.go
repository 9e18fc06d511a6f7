package questions

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkeyid/latchkey/plugin/method"
)

// customRow is the live model of sspr_custom_questions.
type customRow struct {
	ID        string    `gorm:"primaryKey;size:32"`
	Text      string    `gorm:"size:400;not null"`
	CreatedAt time.Time `gorm:"precision:6;not null"`
}

func (customRow) TableName() string { return "sspr_custom_questions" }

// ErrTooManyCustom means MaxCustom questions exist already.
var ErrTooManyCustom = errors.New("questions: at most 20 custom questions")

// Custom lists the admin-defined questions, oldest first.
func (m *Method) Custom(ctx context.Context) ([]method.Question, error) {
	var rows []customRow
	if err := m.g.WithContext(ctx).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("questions: custom: %w", err)
	}
	out := make([]method.Question, len(rows))
	for i, r := range rows {
		out[i] = method.Question{ID: r.ID, Text: r.Text}
	}
	return out, nil
}

// AddCustom adds an admin-defined question. The count is checked in a
// transaction; on SQLite writers are serialised, on MySQL two admins racing
// at 19 may end at 21, which is harmless.
func (m *Method) AddCustom(ctx context.Context, text string) (method.Question, error) {
	text = strings.TrimSpace(text)
	if n := utf8.RuneCountInString(text); n < 5 || n > MaxQuestion || strings.ContainsAny(text, "\r\n") {
		return method.Question{}, method.Invalid("question", "invalid.question.custom", "Min", 5, "Max", MaxQuestion)
	}
	var n int64
	if err := m.g.WithContext(ctx).Model(&customRow{}).Count(&n).Error; err != nil {
		return method.Question{}, fmt.Errorf("questions: add custom: %w", err)
	}
	if n >= MaxCustom {
		return method.Question{}, ErrTooManyCustom
	}
	r := customRow{ID: "c" + strings.ToLower(rand.Text())[:16], Text: text, CreatedAt: m.now().UTC()}
	if err := m.g.WithContext(ctx).Create(&r).Error; err != nil {
		return method.Question{}, fmt.Errorf("questions: add custom: %w", err)
	}
	return method.Question{ID: r.ID, Text: r.Text}, nil
}

// DeleteCustom removes an admin-defined question. Enrollments that use it
// keep their copy of its text and stay valid.
func (m *Method) DeleteCustom(ctx context.Context, id string) error {
	res := m.g.WithContext(ctx).Where("id = ?", id).Delete(&customRow{})
	if res.Error != nil {
		return fmt.Errorf("questions: delete custom: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return method.ErrNotFound
	}
	return nil
}
