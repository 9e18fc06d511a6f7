package audit

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrBadCursor means a page cursor this log did not hand out.
var ErrBadCursor = errors.New("audit: invalid page cursor")

// Page is one page of events, newest first. Next is the opaque cursor of
// the page after it, "" on the last page.
type Page struct {
	Events []Event
	Next   string
}

// Page returns up to f.Limit events matching f (0 means DefaultLimit,
// capped at MaxLimit), newest first, after cursor ("" for the first page).
// The cursor is the (time, id) of the last event returned, and the next
// page is the events strictly before it in that order: a range on one of
// the (…, time, id) indexes, never an OFFSET, so events recorded while an
// administrator pages are neither skipped nor shown twice.
func (l *Log) Page(ctx context.Context, f Filter, cursor string) (Page, error) {
	switch {
	case f.Limit <= 0:
		f.Limit = DefaultLimit
	case f.Limit > MaxLimit:
		f.Limit = MaxLimit
	}
	q := f.where(l.g.WithContext(ctx))
	if cursor != "" {
		t, id, err := decodeCursor(cursor)
		if err != nil {
			return Page{}, err
		}
		q = q.Where("time <= ? AND (time < ? OR id < ?)", t, t, id)
	}
	var out []Event
	if err := q.Order("time DESC").Order("id DESC").Limit(f.Limit + 1).Find(&out).Error; err != nil {
		return Page{}, fmt.Errorf("audit: page: %w", err)
	}
	p := Page{Events: out}
	if len(out) > f.Limit {
		p.Events = out[:f.Limit]
		last := p.Events[f.Limit-1]
		p.Next = encodeCursor(last.Time, last.ID)
	}
	for i := range p.Events {
		p.Events[i].Time = p.Events[i].Time.UTC()
	}
	return p, nil
}

func encodeCursor(t time.Time, id uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UTC().UnixNano(), 10) + "." + strconv.FormatUint(id, 10)))
}

func decodeCursor(s string) (time.Time, uint64, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 64 {
		return time.Time{}, 0, ErrBadCursor
	}
	ts, ids, ok := strings.Cut(string(b), ".")
	ns, err1 := strconv.ParseInt(ts, 10, 64)
	id, err2 := strconv.ParseUint(ids, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return time.Time{}, 0, ErrBadCursor
	}
	return time.Unix(0, ns).UTC(), id, nil
}
