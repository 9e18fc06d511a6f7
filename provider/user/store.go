package user

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/secret"
)

// Limits on stored fields, in code points (they match the column sizes).
const (
	MaxUsername    = 190
	MaxEmail       = 254
	MaxDisplayName = 190
	MaxGroup       = 190
	// maxLoginInput bounds what a lookup normalises at all; anything longer
	// cannot match a stored key.
	maxLoginInput = 4 * MaxEmail
)

// group is one row of user_groups; Name is normalised.
type group struct {
	UserID string `gorm:"primaryKey;size:26"`
	Name   string `gorm:"column:group_name;primaryKey;size:190;index"`
}

func (group) TableName() string { return "user_groups" }

// Store is the database-backed Directory. It is safe for concurrent use.
type Store struct {
	g        *gorm.DB
	prepared *gorm.DB // g with prepared statements, for the hot reads; nil in a transaction
	hasher   *password.Hasher
	now      func() time.Time
	lockout  Lockout
	keys     *secret.Keyring
}

// Option configures a Store.
type Option func(*Store)

// WithClock replaces time.Now for lockout decisions and timestamps (tests).
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = func() time.Time { return now().UTC() } }
}

// WithLockout sets the lockout rule; zero fields keep their defaults.
func WithLockout(l Lockout) Option { return func(s *Store) { s.lockout = l.withDefaults() } }

// WithKeyring enables "a repeated wrong password does not count again":
// the last few wrong passwords are remembered as short MACs under the
// keyring. Without it every wrong password counts.
func WithKeyring(k *secret.Keyring) Option { return func(s *Store) { s.keys = k } }

// NewStore returns a Store on g (migrated with provider/schema). A nil h
// means a hasher with the default parameters.
func NewStore(g *gorm.DB, h *password.Hasher, opts ...Option) *Store {
	if h == nil {
		h = password.NewHasher(password.DefaultParams)
	}
	s := &Store{g: g, hasher: h, now: func() time.Time { return time.Now().UTC() }, lockout: DefaultLockout,
		prepared: g.Session(&gorm.Session{PrepareStmt: true})}
	for _, o := range opts {
		o(s)
	}
	return s
}

// WithTx returns a Store that runs every statement in tx, so a caller (the
// password reset) can set the password and clear the lockout in the same
// transaction as its own writes. Hash the new password before opening the
// transaction (password.Hasher.Hash + SetPasswordHash) to keep it short.
func (s *Store) WithTx(tx *gorm.DB) *Store {
	c := *s
	c.g, c.prepared = tx, nil
	return &c
}

// Hasher returns the hasher the store verifies and hashes with.
func (s *Store) Hasher() *password.Hasher { return s.hasher }

func (s *Store) db(ctx context.Context) *gorm.DB { return s.g.WithContext(ctx) }

// hot is db for the reads of every token request and sign-in (a user by
// ID, a user's groups) through statements prepared once per connection:
// parsing their SQL each time was a fifth of a refresh rotation's CPU.
func (s *Store) hot(ctx context.Context) *gorm.DB {
	if s.prepared == nil {
		return s.db(ctx)
	}
	return s.prepared.WithContext(ctx)
}

func newID() string { return rand.Text() }

// Create registers a user. Username and email must be unique after
// Normalize, also across each other: a username may not equal another
// user's email address, so ByLogin is never ambiguous.
func (s *Store) Create(ctx context.Context, n NewUser) (*User, error) {
	u, err := s.validateNew(n)
	if err != nil {
		return nil, wrap("create", err)
	}
	groups, err := normGroups(n.Groups)
	if err != nil {
		return nil, wrap("create", err)
	}
	switch {
	case n.PasswordHash != "":
		if !password.Known(n.PasswordHash) {
			return nil, wrap("create", fmt.Errorf("%w: password hash is neither argon2id (PHC) nor bcrypt", ErrInvalid))
		}
		u.PasswordHash = n.PasswordHash
	case n.Password != "":
		// Hashed before the transaction: ~40 ms of CPU must not hold a write lock.
		if u.PasswordHash, err = s.hasher.Hash(ctx, n.Password); err != nil {
			return nil, wrap("create", err)
		}
	}
	now := s.now()
	u.ID, u.CreatedAt, u.UpdatedAt = newID(), now, now
	if u.PasswordHash != "" {
		u.PasswordChangedAt, u.SignedOutAt = now, &now
	}
	err = db.Transact(ctx, s.db(ctx), "user.create", func(tx *gorm.DB) error {
		var clash int64
		if err := tx.Model(&User{}).
			Where("username_key = ? OR email_key = ?", u.EmailKey, u.UsernameKey).
			Count(&clash).Error; err != nil {
			return err
		}
		if clash > 0 {
			return ErrExists
		}
		if err := tx.Create(u).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return ErrExists
			}
			return err
		}
		return insertGroups(tx, u.ID, groups)
	})
	if err != nil {
		return nil, wrap("create", err)
	}
	u.Groups = groups
	return u, nil
}

// Validate checks n as Create does, without creating anything: every
// problem at once, each a *FieldError.
func (s *Store) Validate(n NewUser) error {
	_, err := s.validateNew(n)
	return err
}

func (s *Store) validateNew(n NewUser) (*User, error) {
	u := &User{
		Username:    strings.TrimSpace(n.Username),
		DisplayName: strings.TrimSpace(n.DisplayName),
		GivenName:   strings.TrimSpace(n.GivenName),
		FamilyName:  strings.TrimSpace(n.FamilyName),
		Phone:       strings.TrimSpace(n.Phone),
		Locale:      strings.TrimSpace(n.Locale),
		Admin:       n.Admin,
	}
	u.UsernameKey = Normalize(u.Username)
	u.NameKey = NameKey(u.DisplayName)
	// Every problem at once, each naming its field.
	var errs []error
	switch err := checkText("username", u.Username, MaxUsername); {
	case err != nil:
		errs = append(errs, fieldErr("username", err))
	case u.UsernameKey == "" || utf8.RuneCountInString(u.UsernameKey) > MaxUsername:
		errs = append(errs, &FieldError{"username", "username is empty or too long"})
	case strings.IndexFunc(u.Username, invisible) >= 0:
		// "ali\u200bce" would look exactly like "alice" and be another account.
		errs = append(errs, &FieldError{"username", "username contains invisible characters"})
	}
	email, err := checkEmail(n.Email)
	switch {
	case err != nil:
		errs = append(errs, fieldErr("email", err))
	case utf8.RuneCountInString(Normalize(email)) > MaxEmail:
		errs = append(errs, &FieldError{"email", "email address too long"})
	}
	u.Email, u.EmailKey = email, Normalize(email)
	if err := checkText("display name", u.DisplayName, MaxDisplayName); err != nil && u.DisplayName != "" {
		errs = append(errs, fieldErr("name", err))
	}
	if u.Phone != "" && !e164.MatchString(u.Phone) {
		errs = append(errs, &FieldError{"phone", phoneProblem})
	}
	for _, f := range []struct{ field, what, v string }{{"given_name", "given name", u.GivenName}, {"family_name", "family name", u.FamilyName}} {
		if err := checkText(f.what, f.v, MaxDisplayName); err != nil && f.v != "" {
			errs = append(errs, fieldErr(f.field, err))
		}
	}
	if u.Locale != "" && !validLocale(u.Locale) {
		errs = append(errs, &FieldError{"locale", localeProblem})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return u, nil
}

const phoneProblem = "phone number must be in E.164 form, like +14155550100"

// FieldError is one invalid input field; it is an ErrInvalid. Field is
// the name the admin API uses (username, email, name, phone, ...).
type FieldError struct{ Field, Problem string }

func (e *FieldError) Error() string        { return ErrInvalid.Error() + ": " + e.Problem }
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// fieldErr names the field of a checkText or checkEmail error.
func fieldErr(field string, err error) error {
	return &FieldError{field, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")}
}

// Fields lists the FieldErrors err holds (joined or wrapped), so a caller
// can show every problem at once.
func Fields(err error) []FieldError {
	var out []FieldError
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case nil:
		case *FieldError:
			out = append(out, *x)
		case interface{ Unwrap() []error }:
			for _, c := range x.Unwrap() {
				walk(c)
			}
		default:
			walk(errors.Unwrap(e))
		}
	}
	walk(err)
	return out
}

// invisible reports format characters (zero-width space and joiners,
// bidirectional controls), which make look-alike identifiers.
func invisible(r rune) bool { return unicode.Is(unicode.Cf, r) }

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// checkText refuses empty, over-long, invalid UTF-8 or control-character
// values: they would end up in pages, mails and logs.
func checkText(what, v string, max int) error {
	if v == "" || !utf8.ValidString(v) || utf8.RuneCountInString(v) > max ||
		strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return fmt.Errorf("%w: %s must be 1 to %d printable characters", ErrInvalid, what, max)
	}
	return nil
}

// checkEmail accepts a bare address (no display name, no angle brackets).
func checkEmail(v string) (string, error) {
	v = strings.TrimSpace(v)
	if err := checkText("email address", v, MaxEmail); err != nil {
		return "", err
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || a.Name != "" || strings.IndexFunc(v, invisible) >= 0 {
		return "", fmt.Errorf("%w: %q is not a plain email address", ErrInvalid, v)
	}
	return v, nil
}

func normGroups(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, g := range in {
		k := Normalize(g)
		if k == "" || utf8.RuneCountInString(k) > MaxGroup || strings.IndexFunc(k, unicode.IsControl) >= 0 {
			return nil, fmt.Errorf("%w: group name %q must be 1 to %d printable characters", ErrInvalid, g, MaxGroup)
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out, nil
}

func insertGroups(tx *gorm.DB, id string, groups []string) error {
	if len(groups) == 0 {
		return nil
	}
	rows := make([]group, len(groups))
	for i, g := range groups {
		rows[i] = group{UserID: id, Name: g}
	}
	return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error
}

// ByID returns the user with this ID, or ErrNotFound.
func (s *Store) ByID(ctx context.Context, id string) (*User, error) {
	var u User
	if err := s.hot(ctx).Where("id = ?", id).Take(&u).Error; err != nil {
		return nil, wrap("by id", notFound(err))
	}
	return s.withGroups(ctx, &u)
}

// ByLogin finds a user by username or email address, compared after
// Normalize. A username match wins over an email match.
func (s *Store) ByLogin(ctx context.Context, login string) (*User, error) {
	u, err := s.byLogin(ctx, login)
	if err != nil {
		return nil, wrap("by login", err)
	}
	return s.withGroups(ctx, u)
}

func (s *Store) byLogin(ctx context.Context, login string) (*User, error) {
	if len(login) > maxLoginInput || !utf8.ValidString(login) {
		return nil, ErrNotFound
	}
	k := Normalize(login)
	if k == "" {
		return nil, ErrNotFound
	}
	var us []User
	if err := s.db(ctx).Where("username_key = ? OR email_key = ?", k, k).Limit(2).Find(&us).Error; err != nil {
		return nil, err
	}
	for i := range us {
		if us[i].UsernameKey == k {
			return &us[i], nil
		}
	}
	if len(us) > 0 {
		return &us[0], nil
	}
	return nil, ErrNotFound
}

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

func (s *Store) withGroups(ctx context.Context, u *User) (*User, error) {
	if err := s.hot(ctx).Model(&group{}).Where("user_id = ?", u.ID).Order("group_name").Pluck("group_name", &u.Groups).Error; err != nil {
		return nil, wrap("groups", err)
	}
	return u, nil
}

// List returns every user, ordered by username key, with groups.
func (s *Store) List(ctx context.Context) ([]User, error) {
	return s.list(ctx, s.db(ctx).Order("username_key"))
}

// Admins returns the enabled administrators (who are, for example,
// notified when an administrator's password is reset).
func (s *Store) Admins(ctx context.Context) ([]User, error) {
	return s.list(ctx, s.db(ctx).Where("admin = ? AND disabled = ?", true, false).Order("username_key"))
}

func (s *Store) list(ctx context.Context, q *gorm.DB) ([]User, error) {
	var us []User
	if err := q.Find(&us).Error; err != nil {
		return nil, wrap("list", err)
	}
	if len(us) == 0 {
		return us, nil
	}
	var gs []group
	if err := s.db(ctx).Order("group_name").Find(&gs).Error; err != nil {
		return nil, wrap("list groups", err)
	}
	byUser := map[string][]string{}
	for _, g := range gs {
		byUser[g.UserID] = append(byUser[g.UserID], g.Name)
	}
	for i := range us {
		us[i].Groups = byUser[us[i].ID]
	}
	return us, nil
}

// InGroup reports whether the user belongs to group (compared after Normalize).
func (s *Store) InGroup(ctx context.Context, id, groupName string) (bool, error) {
	var n int64
	if err := s.db(ctx).Model(&group{}).Where("user_id = ? AND group_name = ?", id, Normalize(groupName)).Count(&n).Error; err != nil {
		return false, wrap("in group", err)
	}
	return n > 0, nil
}

// SetGroups replaces the user's groups.
func (s *Store) SetGroups(ctx context.Context, id string, groups ...string) error {
	gs, err := normGroups(groups)
	if err != nil {
		return wrap("set groups", err)
	}
	return wrap0("set groups", db.Transact(ctx, s.db(ctx), "user.set_groups", func(tx *gorm.DB) error {
		if err := exists(tx, id); err != nil {
			return err
		}
		if err := tx.Where("user_id = ?", id).Delete(&group{}).Error; err != nil {
			return err
		}
		return insertGroups(tx, id, gs)
	}))
}

// AddGroups adds the user to groups; groups already held are kept.
func (s *Store) AddGroups(ctx context.Context, id string, groups ...string) error {
	gs, err := normGroups(groups)
	if err != nil {
		return wrap("add groups", err)
	}
	return wrap0("add groups", db.Transact(ctx, s.db(ctx), "user.add_groups", func(tx *gorm.DB) error {
		if err := exists(tx, id); err != nil {
			return err
		}
		return insertGroups(tx, id, gs)
	}))
}

// RemoveGroups removes the user from groups; absent ones are ignored.
func (s *Store) RemoveGroups(ctx context.Context, id string, groups ...string) error {
	gs, err := normGroups(groups)
	if err != nil {
		return wrap("remove groups", err)
	}
	if err := exists(s.db(ctx), id); err != nil {
		return wrap("remove groups", err)
	}
	if len(gs) == 0 {
		return nil
	}
	return wrap0("remove groups", s.db(ctx).Where("user_id = ? AND group_name IN ?", id, gs).Delete(&group{}).Error)
}

func exists(tx *gorm.DB, id string) error {
	var n int64
	if err := tx.Model(&User{}).Where("id = ?", id).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// SetDisabled disables or re-enables the account. A disabled user cannot
// sign in (ErrDisabled after a correct password) and SSPR never re-enables it.
func (s *Store) SetDisabled(ctx context.Context, id string, disabled bool) error {
	return s.update(ctx, "set disabled", id, map[string]any{"disabled": disabled})
}

// SetAdmin grants or removes the administrator flag.
func (s *Store) SetAdmin(ctx context.Context, id string, admin bool) error {
	return s.update(ctx, "set admin", id, map[string]any{"admin": admin})
}

// Delete removes the user and their group memberships. Other packages'
// rows (sessions, methods) are removed by their owners.
func (s *Store) Delete(ctx context.Context, id string) error {
	return wrap0("delete", db.Transact(ctx, s.db(ctx), "user.delete", func(tx *gorm.DB) error {
		if err := tx.Where("user_id = ?", id).Delete(&group{}).Error; err != nil {
			return err
		}
		res := tx.Where("id = ?", id).Delete(&User{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return nil
	}))
}

// update sets columns of one user; ErrNotFound when there is no such user.
func (s *Store) update(ctx context.Context, op, id string, cols map[string]any) error {
	cols["updated_at"] = s.now()
	var res *gorm.DB
	if err := db.RetryStmt(ctx, s.db(ctx), "user.update", func(g *gorm.DB) error {
		res = g.Model(&User{}).Where("id = ?", id).Updates(cols)
		return res.Error
	}); err != nil {
		return wrap(op, err)
	}
	if res.RowsAffected == 0 {
		// MySQL counts changed rows, not matched ones: 0 can also mean the
		// values were already set.
		return wrap0(op, exists(s.db(ctx), id))
	}
	return nil
}

func wrap0(op string, err error) error {
	if err == nil {
		return nil
	}
	return wrap(op, err)
}
