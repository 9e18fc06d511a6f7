package plugin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/plugin/method"
	"github.com/latchkeyid/latchkey/plugin/sender"
	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/user"
	"github.com/latchkeyid/latchkey/provider/web"
	"github.com/latchkeyid/latchkey/ui/i18n"
	lkmail "github.com/latchkeyid/latchkey/ui/mail"
)

// notice names a notification.
type notice string

const (
	noticeReset         notice = "reset"
	noticeChanged       notice = "changed" // by a user who knew the password
	noticeUnlock        notice = "unlock"
	noticeMethodAdded   notice = "method-added"
	noticeMethodRemoved notice = "method-removed"
	noticeReplay        notice = "code-replay"
	noticeAdminReset    notice = "admin-reset"
)

// note is what a notification says beyond time and IP. Methods are
// named in the mail's language when it is composed.
type note struct {
	Verified  []string    // reset/unlock: the methods verified (method names)
	Methods   string      // or, worded already, how the user was verified
	Name      method.Name // method added/removed
	Method    string      // or its title, worded already
	Label     string      // the added/removed method's label
	SignedOut bool        // changed: every other session was signed out
	// Theirs: the request is not known to be the user's (a replayed
	// code may be an attacker's), so the mail is in the user's remembered
	// language, the request's only when none is remembered.
	Theirs bool
}

// mailNames maps notices to the ui/mail templates.
var mailNames = map[notice]string{
	noticeReset: lkmail.PasswordReset, noticeChanged: lkmail.PasswordChanged, noticeUnlock: lkmail.Unlocked, noticeMethodAdded: lkmail.MethodAdded,
	noticeMethodRemoved: lkmail.MethodRemoved, noticeReplay: lkmail.CodeReplay, noticeAdminReset: lkmail.AdminReset,
}

// reportTTL is how long a "This wasn't me" link works.
const reportTTL = 7 * 24 * time.Hour

type reportToken struct {
	TokenHash string `gorm:"primaryKey;size:64"`
	UserID    string `gorm:"size:64"`
	Event     string `gorm:"size:32"`
	// Recipient is the address the link was mailed to, as the audit names
	// it (recipientOf): every address gets a link of its own.
	Recipient string     `gorm:"size:200"`
	CreatedAt time.Time  `gorm:"precision:6"`
	ExpiresAt time.Time  `gorm:"precision:6"`
	UsedAt    *time.Time `gorm:"precision:6"`
}

func (reportToken) TableName() string { return "sspr_report_tokens" }

func hashToken(t string) string {
	s := sha256.Sum256([]byte(t))
	return hex.EncodeToString(s[:])
}

// notify queues the notification of kind to the user's addresses (the
// account's email and every registered email method), inside tx when
// given, with a "This wasn't me" link. Messages carry time, IP, what
// happened and detail (method names); never a code or password. Policy
// NotifyUser=false silences reset/unlock mails (method changes are always
// mailed); NotifyAdmins mails every admin when an admin's password is reset.
func (p *notifier) notify(ctx context.Context, tx *gorm.DB, c echo.Context, u *user.User, kind notice, nd note) error {
	if tx == nil {
		tx = p.d.DB.WithContext(ctx)
	}
	pol, err := p.d.Policy.Get(ctx)
	if err != nil {
		return err
	}
	if (kind == noticeReset || kind == noticeChanged || kind == noticeUnlock) && !pol.NotifyUser {
		return nil
	}
	now := p.d.Now().UTC()
	addrs, err := p.recipients(ctx, u)
	if err != nil {
		return err
	}
	for _, to := range addrs {
		// A link per address: one mailed to an address someone else
		// added is theirs alone, and the audit says who reported.
		token := rand.Text()
		if err := tx.Create(&reportToken{TokenHash: hashToken(token), UserID: u.ID, Event: string(kind),
			Recipient: recipientOf(to), CreatedAt: now, ExpiresAt: now.Add(reportTTL)}).Error; err != nil {
			return fmt.Errorf("plugin: notify: %w", err)
		}
		m, err := p.compose(c, u, kind, nd, p.link("/recover/report/"+token), now)
		if err != nil {
			return err
		}
		m.To = to.addr
		if err := p.d.Queue.EnqueueTx(tx, m); err != nil {
			return fmt.Errorf("plugin: notify: %w", err)
		}
	}
	if len(addrs) > 0 {
		ev := audit.Event{Type: "notify.queued", UserID: u.ID, Outcome: audit.OK,
			Detail: fmt.Sprintf("%s to %d address(es)", kind, len(addrs))}
		if c != nil {
			ev = p.event(c, ev.Type, u.ID, "", audit.OK, ev.Detail)
		}
		if err := p.d.Audit.RecordTx(tx, ev); err != nil {
			return err
		}
	}
	if (kind == noticeReset || kind == noticeChanged) && u.Admin && pol.NotifyAdmins {
		admins, err := p.d.Users.Admins(ctx)
		if err != nil {
			return err
		}
		for _, a := range admins {
			if a.ID == u.ID || a.Email == "" {
				continue
			}
			// Each administrator reads it in their own language: the
			// page that caused it is not theirs.
			m, err := p.composeFor(inLanguageOf(ctx, &a), c, u, noticeAdminReset, nd, "", now)
			if err != nil {
				return err
			}
			m.To = a.Email
			if err := p.d.Queue.EnqueueTx(tx, m); err != nil {
				return fmt.Errorf("plugin: notify admins: %w", err)
			}
		}
	}
	return nil
}

// MethodChanged mails the user's addresses that e was added to or removed
// from their account outside the pages (`latchkey method add|remove`), as
// the pages do for the user's own changes. The mail is queued; a running
// server's dispatcher sends it.
func (p *Plugin) MethodChanged(ctx context.Context, userID string, e method.Enrollment, added bool) error {
	u, err := p.d.Users.ByID(ctx, userID)
	if err != nil {
		return fmt.Errorf("plugin: notify: %w", err)
	}
	kind := noticeMethodRemoved
	if added {
		kind = noticeMethodAdded
	}
	// Either way the account has had a method: what is added later cools down.
	if err := p.markHadMethods(p.d.DB.WithContext(ctx), userID, ""); err != nil {
		return err
	}
	return p.notes.notify(ctx, nil, nil, u, kind, note{Name: e.Method, Label: e.Label})
}

// Addresser is an optional interface of methods whose enrollments have an
// email address that can receive notifications (the address is sealed in
// the enrollment, so only the method can open it).
type Addresser interface {
	Address(e method.Enrollment) (string, error)
}

// recipient is one address a user's notifications go to: the account's
// own (enrollmentID "") or an email method's.
type recipient struct {
	addr, enrollmentID string
}

// recipients lists where a user's notifications go: the account's email
// plus every registered email method, each once (normalised).
func (p *notifier) recipients(ctx context.Context, u *user.User) ([]recipient, error) {
	var out []recipient
	seen := map[string]bool{}
	add := func(a, id string) {
		if a != "" && !seen[user.Normalize(a)] {
			seen[user.Normalize(a)] = true
			out = append(out, recipient{addr: a, enrollmentID: id})
		}
	}
	add(u.Email, "")
	es, err := p.d.Enrollments.List(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		m, ok := p.d.Methods.Get(e.Method)
		if !ok {
			continue
		}
		if a, ok := m.(Addresser); ok {
			if addr, err := a.Address(e); err == nil {
				add(addr, e.ID)
			}
		}
	}
	return out, nil
}

// compose renders a notification to u through the ui/mail templates. It
// is in the language of the request that caused it; without one (an
// administrator's command, background work) in u's remembered language.
func (p *notifier) compose(c echo.Context, u *user.User, kind notice, nd note, link string, now time.Time) (sender.Message, error) {
	ctx := inLanguageOf(context.Background(), u)
	if c != nil && !(nd.Theirs && u.Locale != "") {
		ctx = c.Request().Context()
	}
	return p.composeFor(ctx, c, u, kind, nd, link, now)
}

// composeFor is compose in the language ctx carries (i18n.From).
func (p *notifier) composeFor(ctx context.Context, c echo.Context, u *user.User, kind notice, nd note, link string, now time.Time) (sender.Message, error) {
	l := i18n.From(ctx)
	// Where the mail names the IP address: an administrator's command
	// (MethodChanged) has none.
	ip := l.T("notice.from.admin")
	if c != nil {
		ip = c.RealIP()
	}
	methods, title := nd.Methods, nd.Method
	if len(nd.Verified) > 0 {
		titles := make([]string, len(nd.Verified))
		for i, n := range nd.Verified {
			titles[i] = p.methodTitle(l, method.Name(n))
		}
		methods = strings.Join(titles, l.T("notice.list.separator"))
	}
	label := nd.Label
	if nd.Name != "" {
		title = p.methodTitle(l, nd.Name)
	}
	if nd.Name == method.Questions {
		if s := questionsDetail(l, label); s != "" {
			label = s // "3 security questions" was stored in English
		}
	}
	r, err := p.d.Mail.Render(ctx, mailNames[kind], map[string]any{
		"Time": now, "IP": ip, "Methods": methods, "Method": title,
		"Label": label, "ReportURL": link, "Username": u.Username, "SignedOut": nd.SignedOut,
	})
	if err != nil {
		return sender.Message{}, fmt.Errorf("plugin: notify: %w", err)
	}
	return sender.Message{Channel: sender.Email, Subject: r.Subject, Text: r.Text, HTML: r.HTML, Kind: "notify"}, nil
}

// --- "This wasn't me" ---

func (p *notifier) findReport(c echo.Context) (*reportToken, error) {
	tok := c.Param("token")
	var r reportToken
	if len(tok) > 64 {
		return nil, errReport
	}
	err := p.d.DB.WithContext(c.Request().Context()).Where("token_hash = ? AND used_at IS NULL AND expires_at > ?",
		hashToken(tok), p.d.Now().UTC()).Take(&r).Error
	if err != nil {
		return nil, errReport
	}
	return &r, nil
}

var errReport = &web.PageError{Status: http.StatusNotFound, Title: "recover.report.gone_title",
	Message: "recover.report.gone_text"}

// reportPage is the GET of the link: it only shows a confirmation, so a
// mail scanner that fetches links consumes nothing.
func (p *notifier) reportPage(c echo.Context) error {
	if _, err := p.findReport(c); err != nil {
		return err
	}
	return p.render(c, http.StatusOK, "recover-report", map[string]any{"Action": p.path("/recover/report/" + c.Param("token"))})
}

// report locks the account and puts it in the reported state, which
// recovery refuses until an administrator clears it (`latchkey user
// clear-report`), and ends everything issued to the user: sessions,
// tokens, codes and every flow, proven ones included. Each token works
// once; the audit names the address it was mailed to.
func (p *notifier) report(c echo.Context) error {
	ctx := c.Request().Context()
	if _, err := form(c); err != nil {
		return err
	}
	r, err := p.findReport(c)
	if err != nil {
		return err
	}
	now := p.d.Now().UTC()
	err = p.d.Accounts.Lock(ctx, r.UserID, now.AddDate(100, 0, 0), func(ctx context.Context, tx *gorm.DB) error {
		res := tx.Model(&reportToken{}).Where("token_hash = ? AND used_at IS NULL", r.TokenHash).Update("used_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return errReport
		}
		if err := p.markReported(tx, r.UserID, now); err != nil {
			return err
		}
		detail := "locked and reported after " + r.Event
		if r.Recipient != "" {
			detail += "; link mailed to " + r.Recipient
		}
		return p.d.Audit.RecordTx(tx, p.event(c, audit.FraudReported, r.UserID, "", audit.OK, detail))
	})
	if err != nil {
		return err
	}
	return p.message(c, tr(c, "recover.report.locked.title"), tr(c, "recover.report.locked.text"))
}
