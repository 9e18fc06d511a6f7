package schema

import (
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// questionText0010 is sspr_custom_question_texts: an admin-defined
// question's text in one language. The default language's ("en") text is
// also kept in sspr_custom_questions.text, which enrollments copy.
type questionText0010 struct {
	QuestionID string `gorm:"primaryKey;size:32"`
	Lang       string `gorm:"primaryKey;size:16"`
	Text       string `gorm:"size:400;not null"`
}

func (questionText0010) TableName() string { return "sspr_custom_question_texts" }

// questionTexts0010 adds the per-language texts; each existing question's
// one text becomes its English text.
func questionTexts0010() *db.Migration {
	return &db.Migration{
		ID: "0010_question_texts",
		Migrate: func(tx *gorm.DB) error {
			if err := db.Tables(tx).Migrator().CreateTable(&questionText0010{}); err != nil {
				return err
			}
			return tx.Exec("INSERT INTO sspr_custom_question_texts (question_id, lang, text) " +
				"SELECT id, 'en', text FROM sspr_custom_questions").Error
		},
	}
}
