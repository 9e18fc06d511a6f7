package user

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkeyid/latchkey/provider/password"
)

// Sentinel errors; compare with errors.Is.
var (
	ErrNotFound       = errors.New("user: not found")
	ErrExists         = errors.New("user: username or email already registered")
	ErrBadCredentials = errors.New("user: wrong username or password")
	ErrDisabled       = errors.New("user: account disabled")
	// ErrOtherUser: AuthenticateAs was given a login that does not name
	// the expected user; no password was checked.
	ErrOtherUser = errors.New("user: login names another user")
	ErrInvalid   = errors.New("user: invalid input")
	// ErrInFlight: every attempt the lockout threshold allows is being
	// checked by requests still in flight, so this one was refused with no
	// password checked and nothing counted. It is a kind of
	// password.ErrBusy: callers answer "try again in a moment".
	ErrInFlight = fmt.Errorf("user: every allowed sign-in attempt is in flight: %w", password.ErrBusy)
)

// LockedError is returned by Authenticate while an account is locked out.
// Triggered is true for the one wrong password that started the lockout,
// so the caller can audit a "lockout" event exactly once.
type LockedError struct {
	Until     time.Time
	Triggered bool
}

func (e *LockedError) Error() string {
	return "user: account locked out after too many wrong passwords until " + e.Until.UTC().Format(time.RFC3339)
}

// User is one account. Keys are the normalised forms used for lookups;
// Username and Email keep what was registered, for display and for sending.
type User struct {
	ID                string     `gorm:"primaryKey;size:26"`
	Username          string     `gorm:"size:190;not null"`
	UsernameKey       string     `gorm:"size:190;not null;uniqueIndex"`
	Email             string     `gorm:"size:254;not null"`
	EmailKey          string     `gorm:"size:254;not null;uniqueIndex"`
	DisplayName       string     `gorm:"size:190;not null"`
	NameKey           string     `gorm:"size:190;not null"` // NameKey(DisplayName), for search
	GivenName         string     `gorm:"size:190;not null;default:''"`
	FamilyName        string     `gorm:"size:190;not null;default:''"`
	Phone             string     `gorm:"size:32;not null"`
	Groups            []string   `gorm:"-"` // normalised; loaded from user_groups
	Disabled          bool       `gorm:"not null"`
	Admin             bool       `gorm:"not null;index"`
	PasswordHash      string     `gorm:"size:255;not null"`
	PasswordChangedAt time.Time  `gorm:"precision:6"`
	FailedLogins      int        `gorm:"not null"`
	LockedUntil       *time.Time `gorm:"precision:6"`
	Lockouts          int        `gorm:"not null"`
	// BadPasswordMarks holds short keyed fingerprints of the last few wrong
	// passwords (see lockout.go); never a password or a full hash of one.
	BadPasswordMarks string `gorm:"size:64;not null"`
	// Locale is the BCP 47 tag of the language the user last used the
	// pages in, "" when never recorded: messages sent without a request
	// use it.
	Locale string `gorm:"size:35;not null;default:''"`
	// SignedOutAt is the cut-off of the last change that signed the user
	// out everywhere (nil: PasswordChangedAt); see SignInCutoff.
	SignedOutAt *time.Time `gorm:"precision:6"`
	// MustChangePassword: the password is a temporary one an administrator
	// set; sign-in sends the user to change it before any token is issued.
	// Every other password change clears it.
	MustChangePassword bool `gorm:"not null"`
	// RegisterAgainAt: an administrator required the user to register
	// their recovery methods again (the old ones were removed then); the
	// next sign-in sends them to register whatever the policy says. nil
	// once they have registered enough again.
	RegisterAgainAt *time.Time `gorm:"precision:6"`
	CreatedAt       time.Time  `gorm:"precision:6"`
	UpdatedAt       time.Time  `gorm:"precision:6"`
}

// SignInCutoff is the time before which a sign-in of the user no longer
// yields codes or tokens: the last password change that signed out
// everywhere. A change that kept the other sessions leaves it.
func (u *User) SignInCutoff() time.Time {
	if u.SignedOutAt != nil {
		return *u.SignedOutAt
	}
	return u.PasswordChangedAt
}

// TableName is the users table of migration 0001.
func (User) TableName() string { return "users" }

// Locked reports whether the account is locked out at now.
func (u *User) Locked(now time.Time) bool { return u.LockedUntil != nil && now.Before(*u.LockedUntil) }

// NewUser is the input of Create. Password is hashed; PasswordHash imports
// an existing Argon2id or bcrypt hash instead (bcrypt is upgraded at the
// first sign-in). With neither, the account has no usable password.
type NewUser struct {
	Username    string
	Email       string
	DisplayName string
	GivenName   string
	FamilyName  string
	Phone       string
	// Locale is the language mail is written in until the user has used
	// the pages (a BCP 47 tag; "" for English).
	Locale       string
	Groups       []string
	Admin        bool
	Password     string
	PasswordHash string
}

// Directory is what the provider and the SSPR plugin need from a user
// directory. Store implements it on the database; an LDAP backend can
// implement it later.
type Directory interface {
	ByID(ctx context.Context, id string) (*User, error)
	// ByLogin finds a user by username or email address.
	ByLogin(ctx context.Context, login string) (*User, error)
	// Authenticate checks a password sign-in, with lockout. Wrong username
	// or password is ErrBadCredentials, a locked account *LockedError.
	Authenticate(ctx context.Context, login, password string) (*User, error)
	SetPassword(ctx context.Context, id, newPassword string) error
	// CheckPassword compares without lockout side effects.
	CheckPassword(ctx context.Context, id, password string) (bool, error)
	Lock(ctx context.Context, id string, until time.Time) error
	Unlock(ctx context.Context, id string) error
	// Admins lists enabled administrators.
	Admins(ctx context.Context) ([]User, error)
	InGroup(ctx context.Context, id, group string) (bool, error)
}

var _ Directory = (*Store)(nil)

func wrap(op string, err error) error { return fmt.Errorf("user: %s: %w", op, err) }
