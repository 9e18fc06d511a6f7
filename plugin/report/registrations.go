package report

import (
	"context"
	"fmt"
	"time"
)

// MethodCount is one method's registrations among enabled users.
type MethodCount struct {
	Method string `json:"method"`
	Users  int64  `json:"users"` // users holding at least one
	Total  int64  `json:"total"` // registrations (a user may hold two phones)
	Added  int64  `json:"added"` // registered within the range
}

// Registrations counts the methods enabled users hold now, by method, and
// how many of them were registered within rg.
func (r *Reports) Registrations(ctx context.Context, rg Range) ([]MethodCount, error) {
	if err := rg.check(); err != nil {
		return nil, err
	}
	since, until := rg.utc()
	var out []MethodCount
	err := r.g.WithContext(ctx).Raw(`SELECT m.method AS method, COUNT(DISTINCT m.user_id) AS users, COUNT(*) AS total,
			SUM(CASE WHEN m.created_at >= ? AND m.created_at < ? THEN 1 ELSE 0 END) AS added
		FROM sspr_methods m JOIN users u ON u.id = m.user_id
		WHERE u.disabled = ?
		GROUP BY m.method ORDER BY m.method`, since, until, false).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("report: registrations: %w", err)
	}
	return out, nil
}

// Coverage is how many enabled users can recover by themselves.
type Coverage struct {
	Users        int64 `json:"users"`
	Registered   int64 `json:"registered"`   // holding at least one method
	Unregistered int64 `json:"unregistered"` // holding none: the list to chase
}

// Coverage counts the enabled users registered for recovery now. It is a
// snapshot: registrations are not kept per day.
func (r *Reports) Coverage(ctx context.Context) (Coverage, error) {
	var c Coverage
	err := r.g.WithContext(ctx).Raw(`SELECT COUNT(*) AS users,
			COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM sspr_methods m WHERE m.user_id = u.id) THEN 1 ELSE 0 END), 0) AS registered
		FROM users u WHERE u.disabled = ?`, false).Scan(&c).Error
	if err != nil {
		return Coverage{}, fmt.Errorf("report: coverage: %w", err)
	}
	c.Unregistered = c.Users - c.Registered
	return c, nil
}

// Person is an enabled user without any method.
type Person struct {
	ID          string    `json:"id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"name"`
	Email       string    `json:"email"`
	CreatedAt   time.Time `json:"created"`
}

// People is one page of Unregistered. Next is the cursor of the next
// page, "" on the last.
type People struct {
	People []Person `json:"people"`
	Next   string   `json:"next,omitempty"`
}

// Page sizes of Unregistered.
const (
	DefaultPage = 100
	MaxPage     = 1000
)

// Unregistered lists enabled users holding no method, by user id, from
// after the cursor (a user id; "" for the first page). Keyset paging keeps
// every page one index range scan, however deep.
func (r *Reports) Unregistered(ctx context.Context, after string, limit int) (People, error) {
	switch {
	case limit <= 0:
		limit = DefaultPage
	case limit > MaxPage:
		limit = MaxPage
	}
	var rows []Person
	err := r.g.WithContext(ctx).Raw(`SELECT u.id AS id, u.username AS username, u.display_name AS display_name,
			u.email AS email, u.created_at AS created_at
		FROM users u
		WHERE u.disabled = ? AND u.id > ?
			AND NOT EXISTS (SELECT 1 FROM sspr_methods m WHERE m.user_id = u.id)
		ORDER BY u.id LIMIT ?`, false, after, limit+1).Scan(&rows).Error
	if err != nil {
		return People{}, fmt.Errorf("report: unregistered: %w", err)
	}
	var p People
	if len(rows) > limit {
		rows = rows[:limit]
		p.Next = rows[limit-1].ID
	}
	for i := range rows {
		rows[i].CreatedAt = rows[i].CreatedAt.UTC()
	}
	p.People = rows
	if p.People == nil {
		p.People = []Person{}
	}
	return p, nil
}
