package schema

import (
	"crypto/sha256"
	"encoding/hex"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/user"
)

// questionTextKey0010 is the text key as plugin/method/questions computes
// it: SHA-256 of the normalised text.
func questionTextKey0010(text string) string {
	sum := sha256.Sum256([]byte(user.Normalize(text)))
	return hex.EncodeToString(sum[:])
}

// questionText0010 is sspr_custom_question_texts: an admin-defined
// question's text in one language. The default language's ("en") text is
// also kept in sspr_custom_questions.text, which enrollments copy.
type questionText0010 struct {
	QuestionID string `gorm:"primaryKey;size:32"`
	Lang       string `gorm:"primaryKey;size:16;uniqueIndex:idx_sspr_question_texts_key,priority:1"`
	Text       string `gorm:"size:400;not null"`
	// TextKey is a hash of the normalised text: two questions cannot
	// have the same text in one language, however many admins add at once.
	TextKey string `gorm:"size:64;not null;uniqueIndex:idx_sspr_question_texts_key,priority:2"`
}

func (questionText0010) TableName() string { return "sspr_custom_question_texts" }

// questionSlot0010 numbers the custom questions 1..20 under a unique
// index: adding one claims a free slot, so the limit holds under parallel
// adds on every database, Galera included (where row locks are per node).
type questionSlot0010 struct {
	ID   string `gorm:"primaryKey;size:32"`
	Slot *int   `gorm:"uniqueIndex:idx_sspr_custom_questions_slot"`
}

func (questionSlot0010) TableName() string { return "sspr_custom_questions" }

// questionTexts0010 adds the per-language texts (each existing question's
// one text becomes its English text) and the slots.
func questionTexts0010() *db.Migration {
	return &db.Migration{
		ID: "0010_question_texts",
		Migrate: func(tx *gorm.DB) error {
			m := db.Tables(tx).Migrator()
			if err := m.CreateTable(&questionText0010{}); err != nil {
				return err
			}
			if err := m.AddColumn(&questionSlot0010{}, "Slot"); err != nil {
				return err
			}
			var old []struct{ ID, Text string }
			if err := tx.Table("sspr_custom_questions").Select("id", "text").Order("created_at, id").Scan(&old).Error; err != nil {
				return err
			}
			for i, q := range old {
				if err := tx.Table("sspr_custom_questions").Where("id = ?", q.ID).Update("slot", i+1).Error; err != nil {
					return err
				}
				if err := tx.Create(&questionText0010{QuestionID: q.ID, Lang: "en", Text: q.Text, TextKey: questionTextKey0010(q.Text)}).Error; err != nil {
					return err
				}
			}
			return m.CreateIndex(&questionSlot0010{}, "idx_sspr_custom_questions_slot")
		},
	}
}
