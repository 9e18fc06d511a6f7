package user

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
)

// maxLocale is the width of users.locale: a BCP 47 tag as the pages name
// their languages ("de", "pt-BR"), with room to spare.
const maxLocale = 35

// RememberLocale records tag as the language userID last used the pages
// in. Callers pass the locale they last read (the User's Locale), so an
// unchanged language costs no statement at all; the UPDATE is conditional
// as well, so concurrent pages in one language write once. A tag that is
// empty or too long is ignored.
func (s *Store) RememberLocale(ctx context.Context, userID, last, tag string) error {
	if userID == "" || tag == "" || tag == last || len(tag) > maxLocale {
		return nil
	}
	err := db.RetryStmt(ctx, s.db(ctx), "user.locale", func(g *gorm.DB) error {
		return g.Model(&User{}).Where("id = ? AND locale <> ?", userID, tag).Update("locale", tag).Error
	})
	return wrap0("remember locale", err)
}

// SignOutAt moves userID's SignInCutoff to at: every sign-in before it
// stops yielding codes and tokens (the sessions themselves are revoked by
// their store, in the same transaction).
func (s *Store) SignOutAt(ctx context.Context, userID string, at time.Time) error {
	return s.update(ctx, "sign out", userID, map[string]any{"signed_out_at": at.UTC()})
}
