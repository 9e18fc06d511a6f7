package user

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Search limits.
const (
	DefaultSearchLimit = 50
	MaxSearchLimit     = 500
)

// ErrBadCursor means a search cursor that this store did not hand out (or
// one of another query).
var ErrBadCursor = errors.New("user: invalid search cursor")

// Page is one page of a search. Next is the opaque cursor of the page
// after it, "" on the last page.
type Page struct {
	Users []User
	Next  string
}

// A search matches users whose username, email address or display name
// starts with the query, each compared as its normalised key. The matches
// come in three parts that never overlap, each walked along its own index:
// username matches (by username key), then email matches whose username
// does not match (by email key), then name matches that matched neither
// (by name key, then id). A page may span parts. The cursor names the part
// and the last key seen, so a page is one to three index range scans of at
// most limit+1 rows: no OFFSET, no sort, as fast on the millionth page as
// on the first.
type searchPart struct {
	col   string // the key column walked
	tieID bool   // the key is not unique: (key, id) orders the part
	not   []string
}

var searchParts = []searchPart{
	{col: "username_key"},
	{col: "email_key", not: []string{"username_key"}},
	{col: "name_key", tieID: true, not: []string{"username_key", "email_key"}},
}

// cursor is what Next encodes: the query it belongs to (so a cursor of
// another query is refused, not silently misread), the part, and the last
// row returned.
type cursor struct {
	Q    string `json:"q"`
	Part int    `json:"p"`
	Key  string `json:"k"`
	ID   string `json:"i,omitempty"`
}

// maxKey is the largest code point: key < prefix+maxKey bounds a prefix
// range in byte order (SQLite's BINARY and MySQL's binary collation), so
// the range is an index seek where LIKE 'q%' would not be on SQLite.
const maxKey = "\U0010FFFF"

// Search returns the users matching query (see above), limit per page
// (0 means DefaultSearchLimit, capped at MaxSearchLimit), starting after
// cursor ("" for the first page). An empty query lists every user by
// username. Groups are loaded for the page's users only.
func (s *Store) Search(ctx context.Context, query string, limit int, after string) (Page, error) {
	switch {
	case limit <= 0:
		limit = DefaultSearchLimit
	case limit > MaxSearchLimit:
		limit = MaxSearchLimit
	}
	if len(query) > maxLoginInput || !utf8.ValidString(query) {
		return Page{}, wrap("search", fmt.Errorf("%w: query too long or not UTF-8", ErrInvalid))
	}
	q := Normalize(query)
	parts := searchParts
	if q == "" {
		parts = parts[:1] // every user, once, by username
	}
	c := cursor{Q: q}
	if after != "" {
		var err error
		if c, err = decodeCursor(after, q, len(parts)); err != nil {
			return Page{}, wrap("search", err)
		}
	}
	var out []User
	var next *cursor
	for part := c.Part; part < len(parts) && len(out) < limit; part++ {
		from := cursor{}
		if part == c.Part {
			from = c
		}
		rows, err := s.searchPart(ctx, searchParts[part], q, from, limit-len(out)+1)
		if err != nil {
			return Page{}, wrap("search", err)
		}
		if len(rows) > limit-len(out) {
			rows = rows[:limit-len(out)]
			last := rows[len(rows)-1]
			next = &cursor{Q: q, Part: part, Key: partKey(searchParts[part], &last)}
			if searchParts[part].tieID {
				next.ID = last.ID
			}
		}
		out = append(out, rows...)
	}
	if next == nil && len(out) == limit {
		// The page is full at a part's end: the later parts may hold more.
		last := out[len(out)-1]
		part := lastPart(q, &last)
		if part+1 < len(parts) {
			next = &cursor{Q: q, Part: part + 1}
		}
	}
	if err := s.loadGroups(ctx, out); err != nil {
		return Page{}, wrap("search", err)
	}
	p := Page{Users: out}
	if next != nil {
		p.Next = next.encode()
	}
	return p, nil
}

func (s *Store) searchPart(ctx context.Context, sp searchPart, q string, from cursor, n int) ([]User, error) {
	g := s.db(ctx).Model(&User{})
	if q != "" {
		g = g.Where(sp.col+" >= ? AND "+sp.col+" < ?", q, q+maxKey)
		for _, col := range sp.not {
			g = g.Where("NOT ("+col+" >= ? AND "+col+" < ?)", q, q+maxKey)
		}
	}
	switch {
	case from.Key == "" && from.ID == "":
	case sp.tieID:
		g = g.Where(sp.col+" >= ? AND ("+sp.col+" > ? OR id > ?)", from.Key, from.Key, from.ID)
	default:
		g = g.Where(sp.col+" > ?", from.Key)
	}
	g = g.Order(sp.col)
	if sp.tieID {
		g = g.Order("id")
	}
	var us []User
	if err := g.Limit(n).Find(&us).Error; err != nil {
		return nil, err
	}
	return us, nil
}

func partKey(sp searchPart, u *User) string {
	switch sp.col {
	case "username_key":
		return u.UsernameKey
	case "email_key":
		return u.EmailKey
	}
	return u.NameKey
}

// lastPart is the part a returned user came from. (A key whose next code
// point after the query is U+10FFFF, a noncharacter, is outside every
// part's range; HasPrefix would disagree only there.)
func lastPart(q string, u *User) int {
	switch {
	case q == "":
		return 0
	case strings.HasPrefix(u.UsernameKey, q):
		return 0
	case strings.HasPrefix(u.EmailKey, q):
		return 1
	}
	return 2
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, q string, parts int) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 4096 || json.Unmarshal(b, &c) != nil ||
		c.Q != q || c.Part < 0 || c.Part >= parts || !utf8.ValidString(c.Key) {
		return cursor{}, ErrBadCursor
	}
	return c, nil
}

// loadGroups fills Groups of us with one query.
func (s *Store) loadGroups(ctx context.Context, us []User) error {
	if len(us) == 0 {
		return nil
	}
	ids := make([]string, len(us))
	for i := range us {
		ids[i] = us[i].ID
	}
	var gs []group
	if err := s.db(ctx).Where("user_id IN ?", ids).Order("user_id").Order("group_name").Find(&gs).Error; err != nil {
		return err
	}
	byUser := map[string][]string{}
	for _, g := range gs {
		byUser[g.UserID] = append(byUser[g.UserID], g.Name)
	}
	for i := range us {
		us[i].Groups = byUser[us[i].ID]
	}
	return nil
}
