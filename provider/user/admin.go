package user

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/latchkeyid/latchkey/provider/db"
)

// Errors of the administrator guard.
var (
	// ErrLastAdmin: the change would leave no enabled administrator.
	ErrLastAdmin = errors.New("user: the last enabled administrator cannot lose the admin flag, be disabled or be deleted")
	// ErrOwnAdmin: an administrator tried to remove their own admin flag.
	ErrOwnAdmin = errors.New("user: administrators cannot remove their own admin flag")
)

// GuardLastAdmin returns ErrLastAdmin when the user with id is the only
// enabled administrator; nil when they are not an enabled administrator
// or others remain. Call it on a store bound to the transaction that
// removes, disables or deletes the user (WithTx): it locks every enabled
// administrator's row until that transaction ends, so of two transactions
// demoting the last two administrators the second waits, then sees the
// first's change and is refused. (SQLite runs one write transaction at a
// time, which gives the same order.)
func (s *Store) GuardLastAdmin(ctx context.Context, id string) error {
	if !inTx(s.g) {
		return wrap("guard last admin", errors.New("must run in a transaction (WithTx)"))
	}
	var ids []string
	// Ordered by id so every guard takes the locks in the same order.
	if err := s.db(ctx).Model(&User{}).Clauses(clause.Locking{Strength: "UPDATE"}).
		Where("admin = ? AND disabled = ?", true, false).Order("id").Pluck("id", &ids).Error; err != nil {
		return wrap("guard last admin", err)
	}
	if len(ids) == 1 && ids[0] == id {
		return ErrLastAdmin
	}
	return nil
}

func inTx(g *gorm.DB) bool {
	_, ok := g.Statement.ConnPool.(gorm.TxCommitter)
	return ok
}

// SetAdminGuarded grants or removes the administrator flag of target on
// behalf of actor ("" for the command line, which has no signed-in
// administrator): actor may not remove their own flag (ErrOwnAdmin), and
// nobody may remove the last enabled administrator's (ErrLastAdmin). The
// check and the change are one transaction.
func (s *Store) SetAdminGuarded(ctx context.Context, actor, target string, admin bool) error {
	if !admin && actor != "" && actor == target {
		return wrap("set admin", ErrOwnAdmin)
	}
	return wrap0("set admin", db.Transact(ctx, s.db(ctx), "user.set_admin", func(tx *gorm.DB) error {
		st := s.WithTx(tx)
		if err := exists(tx, target); err != nil {
			return err
		}
		if !admin {
			if err := st.GuardLastAdmin(ctx, target); err != nil {
				return err
			}
		}
		return st.SetAdmin(ctx, target, admin)
	}))
}

// Profile is a change to the claims a user's tokens carry; nil fields are
// kept. An empty Phone removes the number; DisplayName and Email must not
// be empty.
type Profile struct {
	DisplayName *string
	GivenName   *string
	FamilyName  *string
	Email       *string
	Phone       *string
	// Locale is the BCP 47 tag mail without a request is written in; ""
	// forgets it.
	Locale *string
}

// UpdateProfile changes the user's name, email address or phone number,
// validated as Create validates them. A new email address must not be any
// other user's username or email (ErrExists).
func (s *Store) UpdateProfile(ctx context.Context, id string, p Profile) error {
	cols := map[string]any{}
	var errs []error
	if p.DisplayName != nil {
		n := strings.TrimSpace(*p.DisplayName)
		if err := checkText("display name", n, MaxDisplayName); err != nil {
			errs = append(errs, fieldErr("name", err))
		}
		cols["display_name"], cols["name_key"] = n, NameKey(n)
	}
	var emailKey string
	if p.Email != nil {
		e, err := checkEmail(*p.Email)
		emailKey = Normalize(e)
		switch {
		case err != nil:
			errs = append(errs, fieldErr("email", err))
		case utf8.RuneCountInString(emailKey) > MaxEmail:
			errs = append(errs, &FieldError{"email", "email address too long"})
		}
		cols["email"], cols["email_key"] = e, emailKey
	}
	for _, f := range []struct {
		col, field, what string
		v                *string
	}{{"given_name", "given_name", "given name", p.GivenName}, {"family_name", "family_name", "family name", p.FamilyName}} {
		if f.v == nil {
			continue
		}
		n := strings.TrimSpace(*f.v)
		if n != "" {
			if err := checkText(f.what, n, MaxDisplayName); err != nil {
				errs = append(errs, fieldErr(f.field, err))
			}
		}
		cols[f.col] = n
	}
	if p.Locale != nil {
		l := strings.TrimSpace(*p.Locale)
		if l != "" && !validLocale(l) {
			errs = append(errs, &FieldError{"locale", localeProblem})
		}
		cols["locale"] = l
	}
	if p.Phone != nil {
		ph := strings.TrimSpace(*p.Phone)
		if ph != "" && !e164.MatchString(ph) {
			errs = append(errs, &FieldError{"phone", phoneProblem})
		}
		cols["phone"] = ph
	}
	if len(errs) > 0 {
		return wrap("update profile", errors.Join(errs...))
	}
	if len(cols) == 0 {
		return wrap0("update profile", exists(s.db(ctx), id))
	}
	return wrap0("update profile", db.Transact(ctx, s.db(ctx), "user.update_profile", func(tx *gorm.DB) error {
		if emailKey != "" {
			var clash int64
			if err := tx.Model(&User{}).Where("id <> ? AND (username_key = ? OR email_key = ?)", id, emailKey, emailKey).
				Count(&clash).Error; err != nil {
				return err
			}
			if clash > 0 {
				return ErrExists
			}
		}
		err := s.WithTx(tx).update(ctx, "update profile", id, cols)
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return ErrExists
		}
		return err
	}))
}

// localeTag is the shape of a BCP 47 tag as the pages name languages.
var localeTag = regexp.MustCompile(`^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$`)

const localeProblem = "locale must be a BCP 47 language tag, like de or pt-BR"

func validLocale(l string) bool { return len(l) <= maxLocale && localeTag.MatchString(l) }

// RequireRegisterAgain marks the user as having to register their
// recovery methods again at the next sign-in (the caller removes the old
// ones in the same transaction).
func (s *Store) RequireRegisterAgain(ctx context.Context, id string, at time.Time) error {
	return s.update(ctx, "require register again", id, map[string]any{"register_again_at": at.UTC()})
}

// RegisteredAgain clears the mark of RequireRegisterAgain.
func (s *Store) RegisteredAgain(ctx context.Context, id string) error {
	return s.update(ctx, "registered again", id, map[string]any{"register_again_at": nil})
}
