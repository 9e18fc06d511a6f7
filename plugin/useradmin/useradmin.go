// Package useradmin holds an administrator's operations on users that
// span several stores or send mail: creating a user with a password or a
// setup link, resetting a password to a temporary one or to a setup link,
// mailing that link in the user's language, and requiring the user to
// register their methods again. The command line (latchkey user) and the
// admin API both call it, so the two cannot drift apart.
package useradmin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin"
	"github.com/latchkeyid/latchkey/plugin/flow"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/provider/account"
	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/password"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/ui/i18n"
	lkmail "github.com/latchkeyid/latchkey/ui/mail"
)

// Errors the callers explain.
var (
	// ErrNoMail: a setup link was to be emailed, but no mail is set up.
	ErrNoMail = errors.New("useradmin: setup links cannot be emailed: no mail sender is configured")
	// ErrDisabled: the setup page refuses disabled accounts, so a link
	// for one would not work.
	ErrDisabled = errors.New("useradmin: the user is disabled; enable them first")
)

// Enqueuer is the mail queue (sender.Queue): the running server delivers.
type Enqueuer interface {
	Enqueue(ctx context.Context, m sender.Message) error
}

// Ops runs the operations. Mail and Queue may be nil: setup links are
// then only returned, never emailed.
type Ops struct {
	DB       *gorm.DB
	Users    *user.Store
	Accounts *account.Service
	Policy   password.Policy
	Mail     *lkmail.Templates
	Queue    Enqueuer
	Issuer   string
	Now      func() time.Time
}

func (o *Ops) now() time.Time {
	if o.Now == nil {
		return time.Now().UTC()
	}
	return o.Now().UTC()
}

// CanMail reports whether setup links can be emailed.
func (o *Ops) CanMail() bool { return o.Mail != nil && o.Queue != nil }

// Link is an issued setup link. When it was emailed, URL is empty: the
// link goes to the user only.
type Link struct {
	URL     string
	Expires time.Time
	Emailed bool
}

// SetupURL is the page a setup token opens, on the public issuer.
func SetupURL(issuer, token string) string {
	return strings.TrimSuffix(issuer, "/") + plugin.SetupPath + "?token=" + url.QueryEscape(token)
}

// TemporaryPassword is five words' worth of entropy in a form that is
// easy to read out: four groups of five base32 characters (100 bits).
func TemporaryPassword() string {
	s := strings.ToLower(rand.Text()[:20])
	return s[0:5] + "-" + s[5:10] + "-" + s[10:15] + "-" + s[15:20]
}

// NewUser is a user to create and how they get their first password:
// NewUser.Password (Temporary: to be changed at the first sign-in),
// NewUser.PasswordHash, or a setup link (SetupLink, emailed with
// SendEmail).
type NewUser struct {
	user.NewUser
	Temporary            bool
	SetupLink, SendEmail bool
	LinkTTL              time.Duration
}

// Create validates everything at once (the profile and the password
// against the policy; every problem as a user.FieldError), creates the
// user and, when asked, issues their setup link.
func (o *Ops) Create(ctx context.Context, in NewUser) (*user.User, *Link, error) {
	if err := o.Validate(in); err != nil {
		return nil, nil, err
	}
	if in.SendEmail && !o.CanMail() {
		return nil, nil, ErrNoMail
	}
	u, err := o.Users.Create(ctx, in.NewUser)
	if err != nil {
		return nil, nil, err
	}
	if in.Temporary {
		if err := o.Users.SetTemporaryPasswordHash(ctx, u.ID, u.PasswordHash); err != nil {
			return nil, nil, err
		}
		u.MustChangePassword = true
	}
	if !in.SetupLink {
		return u, nil, nil
	}
	l, err := o.issue(ctx, u, in.LinkTTL, in.SendEmail)
	return u, l, err
}

// Validate checks in as Create does, creating nothing: every problem at
// once, each a *user.FieldError.
func (o *Ops) Validate(in NewUser) error {
	var errs []error
	if in.Password != "" {
		if err := o.Policy.Check(in.Password, in.Username, in.Email, in.DisplayName); err != nil {
			errs = append(errs, &user.FieldError{Field: "password", Problem: "password refused: " + err.Error()})
		}
	}
	if in.SendEmail && !in.SetupLink {
		errs = append(errs, &user.FieldError{Field: "send_email", Problem: "goes with a setup link"})
	}
	if in.Temporary && in.Password == "" {
		errs = append(errs, &user.FieldError{Field: "temporary", Problem: "goes with a password"})
	}
	if err := o.Users.Validate(in.NewUser); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Unlock clears userID's lockout and forgets their failed recovery
// proofs (the plugin decides recovery blocks from those alone), with also
// (the audit row) in the same transaction. Sessions stay: the
// administrator vouches for the owner.
func (o *Ops) Unlock(ctx context.Context, userID string, also account.InTx) error {
	return db.Transact(ctx, o.DB, "useradmin.unlock", func(tx *gorm.DB) error {
		if err := o.Users.WithTx(tx).Unlock(ctx, userID); err != nil {
			return err
		}
		if err := flow.NewFailures(tx, nil).Clear(ctx, tx, userID); err != nil {
			return err
		}
		if also == nil {
			return nil
		}
		return also(ctx, tx)
	})
}

// ResetToSetupLink removes u's password, revokes every session, token and
// recovery flow (also runs in that transaction: the audit row), and
// issues a one-time link to choose a new one, emailed when send is set.
func (o *Ops) ResetToSetupLink(ctx context.Context, u *user.User, ttl time.Duration, send bool, also account.InTx) (*Link, error) {
	if u.Disabled {
		return nil, ErrDisabled
	}
	if send && !o.CanMail() {
		return nil, ErrNoMail
	}
	if err := o.Accounts.ClearPassword(ctx, u.ID, also); err != nil {
		return nil, err
	}
	return o.issue(ctx, u, ttl, send)
}

// ResetToTemporary sets pw (generated when empty, and then returned) as
// u's temporary password: the user must change it at the next sign-in.
// Every session, token and recovery flow is revoked in the transaction
// that sets it, with also.
func (o *Ops) ResetToTemporary(ctx context.Context, u *user.User, pw string, also account.InTx) (string, error) {
	generated := ""
	if pw == "" {
		pw = TemporaryPassword()
		generated = pw
	} else if err := o.Policy.Check(pw, u.Username, u.Email, u.DisplayName); err != nil {
		return "", &user.FieldError{Field: "password", Problem: "password refused: " + err.Error()}
	}
	// Hashed before the transaction: Argon2id must not hold database locks.
	hash, err := o.Users.Hasher().Hash(ctx, pw)
	if err != nil {
		return "", err
	}
	if err := o.Accounts.SetTemporaryPassword(ctx, u.ID, hash, also); err != nil {
		return "", err
	}
	return generated, nil
}

// RequireRegisterAgain signs userID out everywhere and makes them
// register their methods again at the next sign-in (the methods they had
// stop counting: they are removed), all in one transaction with also.
func (o *Ops) RequireRegisterAgain(ctx context.Context, userID string, also account.InTx) error {
	return o.Accounts.RevokeAll(ctx, userID, account.Keep{}, func(ctx context.Context, tx *gorm.DB) error {
		if also != nil {
			if err := also(ctx, tx); err != nil {
				return err
			}
		}
		return plugin.RequireRegisterAgain(ctx, tx, o.Users, userID, o.now())
	})
}

// GuardLastAdmin runs the last-administrator guard inside an account
// change's transaction, before also: disabling or deleting the only
// enabled administrator is refused, atomically with the change.
func GuardLastAdmin(users *user.Store, id string, also account.InTx) account.InTx {
	return func(ctx context.Context, tx *gorm.DB) error {
		if err := users.WithTx(tx).GuardLastAdmin(ctx, id); err != nil {
			return err
		}
		if also == nil {
			return nil
		}
		return also(ctx, tx)
	}
}

// issue makes u's setup link and, with send, mails it to u's address in
// u's language, with the brand of every other mail.
func (o *Ops) issue(ctx context.Context, u *user.User, ttl time.Duration, send bool) (*Link, error) {
	token, expires, err := o.Users.IssueSetupLink(ctx, u.ID, ttl)
	if err != nil {
		return nil, err
	}
	l := &Link{URL: SetupURL(o.Issuer, token), Expires: expires}
	if !send {
		return l, nil
	}
	lang := i18n.Stored(u.Locale, i18n.English())
	m, err := o.Mail.Render(i18n.With(ctx, lang), lkmail.SetupLink,
		map[string]any{"Username": u.Username, "SetupURL": l.URL, "Expires": expires})
	if err != nil {
		return nil, err
	}
	if err := o.Queue.Enqueue(ctx, sender.Message{Channel: sender.Email, To: u.Email, Subject: m.Subject,
		Text: m.Text, HTML: m.HTML, Lang: lang.Lang(), Kind: "setup-link"}); err != nil {
		return nil, fmt.Errorf("useradmin: mail the setup link: %w", err)
	}
	return &Link{Expires: expires, Emailed: true}, nil
}
