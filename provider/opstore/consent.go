package opstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/latchkeyid/latchkey/provider/db"
)

// HasConsent reports whether userID already allowed clientID every scope
// in scopes.
func (s *Storage) HasConsent(ctx context.Context, userID, clientID string, scopes []string) (bool, error) {
	var row consentRow
	err := s.db(ctx).Where("user_id = ? AND client_id = ?", userID, clientID).Take(&row).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("opstore: consent: %w", err)
	}
	for _, sc := range scopes {
		if !slices.Contains(row.Scopes, sc) {
			return false, nil
		}
	}
	return true, nil
}

// SaveConsent remembers that userID allowed clientID the scopes, added to
// any earlier grant.
func (s *Storage) SaveConsent(ctx context.Context, userID, clientID string, scopes []string) error {
	if userID == "" || clientID == "" {
		return errors.New("opstore: save consent: empty user or client")
	}
	err := db.Transact(ctx, s.db(ctx), "consent.save", func(tx *gorm.DB) error {
		var rows []consentRow
		if err := tx.Where("user_id = ? AND client_id = ?", userID, clientID).Find(&rows).Error; err != nil {
			return err
		}
		all := slices.Clone(scopes)
		if len(rows) == 1 {
			all = append(all, rows[0].Scopes...)
		}
		slices.Sort(all)
		row := consentRow{UserID: userID, ClientID: clientID, Scopes: slices.Compact(all), GrantedAt: s.clock()}
		return tx.Clauses(clause.OnConflict{UpdateAll: true}).Create(&row).Error
	})
	if err != nil {
		return fmt.Errorf("opstore: save consent: %w", err)
	}
	return nil
}

// RevokeConsent forgets what userID allowed clientID.
func (s *Storage) RevokeConsent(ctx context.Context, userID, clientID string) error {
	if err := s.db(ctx).Where("user_id = ? AND client_id = ?", userID, clientID).Delete(&consentRow{}).Error; err != nil {
		return fmt.Errorf("opstore: revoke consent: %w", err)
	}
	return nil
}
