package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/user"
)

// auditCmd lists events when given no subcommand (`latchkey audit
// --user U`), as it always has, and exports them with `audit export`.
type auditCmd struct {
	List   auditListCmd   `cmd:"" default:"withargs" help:"Show events, newest first (the default)."`
	Export auditExportCmd `cmd:"" help:"Write every matching event as CSV or JSON Lines to stdout, newest first; both read back into the same records."`
}

type auditListCmd struct {
	User  string        `help:"Only events of this user (username, email address or user ID)."`
	Since time.Duration `help:"Only events of the last DURATION (e.g. 24h, 90m)." placeholder:"DURATION"`
	Type  string        `help:"Only events of this exact type (e.g. signin.failed)."`
	Limit int           `default:"100" help:"At most this many events, newest first (max 10000)."`
}

func (c *auditListCmd) Run(a *app) error {
	if c.Since < 0 {
		return usageError{errors.New("--since must be positive")}
	}
	if c.Limit < 1 || c.Limit > audit.MaxLimit {
		return usageError{fmt.Errorf("--limit must be between 1 and %d", audit.MaxLimit)}
	}
	users, err := a.users()
	if err != nil {
		return err
	}
	f := audit.Filter{Type: c.Type, Limit: c.Limit}
	if c.Since > 0 {
		f.Since = time.Now().UTC().Add(-c.Since)
	}
	if f.UserID, err = auditUser(a, users, c.User); err != nil {
		return err
	}
	g, err := a.database()
	if err != nil {
		return err
	}
	events, err := audit.NewLog(g).List(a.ctx, f)
	if err != nil {
		return err
	}
	names := map[string]string{}
	if all, err := users.List(a.ctx); err == nil {
		for _, u := range all {
			names[u.ID] = u.Username
		}
	}
	w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TIME\tTYPE\tUSER\tOUTCOME\tIP\tFLOW\tDETAIL")
	for _, e := range events {
		who := e.UserID
		if n, ok := names[e.UserID]; ok {
			who = n
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339), e.Type,
			dash(who), e.Outcome, dash(e.IP), dash(e.FlowID), e.Detail)
	}
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// audit records an administrator action taken from the command line. A
// failure to record is reported but does not undo the action, which has
// already happened; the operator sees the warning.
func (a *app) audit(typ, userID, outcome, detail string) {
	g, err := a.database()
	if err == nil {
		err = audit.NewLog(g).Record(a.ctx, audit.Event{
			Type: typ, UserID: userID, Outcome: outcome, Detail: detail, UserAgent: "latchkey-cli",
		})
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "latchkey: warning: audit log: %v\n", err)
	}
}

// auditUser resolves --user: a username or email address becomes the
// user's ID; anything else is taken as an ID (a deleted user's still
// finds their events).
func auditUser(a *app, users *user.Store, ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	u, err := users.ByLogin(a.ctx, ref)
	switch {
	case err == nil:
		return u.ID, nil
	case errors.Is(err, user.ErrNotFound):
		return ref, nil
	}
	return "", err
}

type auditExportCmd struct {
	Format  string    `required:"" enum:"csv,jsonl" help:"csv (a header row, then one row per event) or jsonl (one JSON object per line)."`
	User    string    `help:"Only events of this user (username, email address or user ID)."`
	Type    string    `help:"Only events of this exact type (e.g. signin.failed)."`
	Outcome string    `help:"Only events with this outcome: ok, fail or blocked."`
	Since   timeOrAge `help:"Only events at or after this time: RFC 3339 (2026-03-01T00:00:00Z), a date (2026-03-01, UTC) or an age (24h)." placeholder:"TIME"`
	Until   timeOrAge `help:"Only events before this time (same forms as --since)." placeholder:"TIME"`
}

func (c *auditExportCmd) Run(a *app) error {
	switch c.Outcome {
	case "", audit.OK, audit.Fail, audit.Blocked:
	default:
		return usageError{fmt.Errorf("--outcome must be ok, fail or blocked (%q)", c.Outcome)}
	}
	users, err := a.users()
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	f := audit.Filter{Type: c.Type, Outcome: c.Outcome, Since: c.Since.at(now), Until: c.Until.at(now)}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return usageError{errors.New("--since must be before --until")}
	}
	if f.UserID, err = auditUser(a, users, c.User); err != nil {
		return err
	}
	g, err := a.database()
	if err != nil {
		return err
	}
	n, err := audit.NewLog(g).Export(a.ctx, a.stdout, c.Format, f)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "exported %d events\n", n)
	return nil
}

// timeOrAge is a flag value that is either a point in time or an age
// before now.
type timeOrAge struct {
	t   time.Time
	age time.Duration
}

// UnmarshalText reads RFC 3339, a bare date (UTC midnight) or a duration.
func (v *timeOrAge) UnmarshalText(b []byte) error {
	s := string(b)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		v.t = t.UTC()
		return nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		v.t = t
		return nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		v.age = d
		return nil
	}
	return fmt.Errorf("%q is neither an RFC 3339 time, a date (YYYY-MM-DD) nor a positive duration", s)
}

func (v timeOrAge) at(now time.Time) time.Time {
	if v.age > 0 {
		return now.Add(-v.age)
	}
	return v.t
}
