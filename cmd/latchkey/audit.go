package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/latchkeyid/latchkey/provider/audit"
	"github.com/latchkeyid/latchkey/provider/user"
)

type auditCmd struct {
	User  string        `help:"Only events of this user (username, email address or user ID)."`
	Since time.Duration `help:"Only events of the last DURATION (e.g. 24h, 90m)." placeholder:"DURATION"`
	Type  string        `help:"Only events of this exact type (e.g. signin.failed)."`
	Limit int           `default:"100" help:"At most this many events, newest first (max 10000)."`
}

func (c *auditCmd) Run(a *app) error {
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
	if c.User != "" {
		u, err := users.ByLogin(a.ctx, c.User)
		switch {
		case err == nil:
			f.UserID = u.ID
		case errors.Is(err, user.ErrNotFound):
			f.UserID = c.User // a deleted user's ID still finds their events
		default:
			return err
		}
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
