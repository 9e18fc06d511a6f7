package report

import (
	"context"
	"fmt"
	"time"

	"github.com/latchkeyid/latchkey/provider/audit"
)

// Account is a user a report names.
type Account struct {
	ID          string    `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"name"`
	At          time.Time `json:"at"` // locked until, or reported at
}

// Locked is who is locked out now and how many lockouts each day saw.
type Locked struct {
	Now      int64      `json:"now"`      // accounts locked now
	Accounts []Account  `json:"accounts"` // the first Limit of them, longest locked first
	PerDay   []DayCount `json:"per_day"`  // lockouts per UTC day of the range, unknown names included
}

// ListLimit bounds the accounts Locked and Fraud name; the counts are whole.
const ListLimit = 100

// Locked reports the accounts locked out after wrong passwords now, and
// the lockouts per day of rg (a lockout of a name no account has counts
// too: an attacker guessing names shows here).
func (r *Reports) Locked(ctx context.Context, rg Range) (Locked, error) {
	if err := rg.check(); err != nil {
		return Locked{}, err
	}
	now := r.now().UTC()
	var out Locked
	q := r.g.WithContext(ctx)
	if err := q.Raw(`SELECT COUNT(*) FROM users WHERE locked_until > ?`, now).Scan(&out.Now).Error; err != nil {
		return Locked{}, fmt.Errorf("report: locked: %w", err)
	}
	if err := q.Raw(`SELECT id, username, display_name, locked_until AS at FROM users
		WHERE locked_until > ? ORDER BY locked_until DESC, id LIMIT ?`, now, ListLimit).Scan(&out.Accounts).Error; err != nil {
		return Locked{}, fmt.Errorf("report: locked: %w", err)
	}
	per, err := r.perDay(ctx, rg, audit.Lockout)
	if err != nil {
		return Locked{}, fmt.Errorf("report: locked: %w", err)
	}
	out.PerDay = per
	out.Accounts = inUTC(out.Accounts)
	return out, nil
}

// Fraud is the open "This wasn't me" reports (recovery refused until an
// administrator clears them) and the reports made each day.
type Fraud struct {
	Open     int64      `json:"open"`
	Accounts []Account  `json:"accounts"` // the first Limit, newest report first
	PerDay   []DayCount `json:"per_day"`
}

// Fraud reports the accounts whose owner said "This wasn't me" and no
// administrator has cleared yet, and the reports made per day of rg.
func (r *Reports) Fraud(ctx context.Context, rg Range) (Fraud, error) {
	if err := rg.check(); err != nil {
		return Fraud{}, err
	}
	var out Fraud
	q := r.g.WithContext(ctx)
	if err := q.Raw(`SELECT COUNT(*) FROM sspr_user_state s JOIN users u ON u.id = s.user_id
		WHERE s.reported_at IS NOT NULL`).Scan(&out.Open).Error; err != nil {
		return Fraud{}, fmt.Errorf("report: fraud: %w", err)
	}
	if err := q.Raw(`SELECT u.id AS id, u.username AS username, u.display_name AS display_name, s.reported_at AS at
		FROM sspr_user_state s JOIN users u ON u.id = s.user_id
		WHERE s.reported_at IS NOT NULL ORDER BY s.reported_at DESC, u.id LIMIT ?`, ListLimit).Scan(&out.Accounts).Error; err != nil {
		return Fraud{}, fmt.Errorf("report: fraud: %w", err)
	}
	per, err := r.perDay(ctx, rg, audit.FraudReported)
	if err != nil {
		return Fraud{}, fmt.Errorf("report: fraud: %w", err)
	}
	out.PerDay = per
	out.Accounts = inUTC(out.Accounts)
	return out, nil
}

// inUTC shows every time in UTC, and an empty list as [] in JSON.
func inUTC(as []Account) []Account {
	if as == nil {
		return []Account{}
	}
	for i := range as {
		as[i].At = as[i].At.UTC()
	}
	return as
}

// perDay counts events of typ per UTC day of rg, every day listed.
func (r *Reports) perDay(ctx context.Context, rg Range, typ string) ([]DayCount, error) {
	since, until := rg.utc()
	day := r.dialect.day("time")
	var rows []struct {
		Day   string
		Count int64
	}
	if err := r.g.WithContext(ctx).Raw(`SELECT `+day+` AS day, COUNT(*) AS count FROM audit_events
		WHERE time >= ? AND time < ? AND type = ? GROUP BY `+day, since, until, typ).Scan(&rows).Error; err != nil {
		return nil, err
	}
	byDay := map[string]int64{}
	for _, row := range rows {
		byDay[row.Day] = row.Count
	}
	all := days(since, until)
	out := make([]DayCount, len(all))
	for i, d := range all {
		out[i] = DayCount{Day: d, Count: byDay[d.Format(time.DateOnly)]}
	}
	return out, nil
}
