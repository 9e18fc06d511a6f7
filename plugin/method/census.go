package method

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Census is the shape of what users have registered, without saying who:
// how many users hold each combination of method kinds, and how many
// email enrollments each mail domain has. Recovery decoys are drawn from
// it, so an unknown name's method list looks like a real user's.
type Census struct {
	// Combos counts users per combination: the kinds of their usable
	// enrollments, sorted and joined with "," (a kind registered twice
	// appears twice).
	Combos map[string]int
	// Domains counts email enrollments per mail domain (from the masked
	// label, whose domain is shown in the clear).
	Domains map[string]int
}

// censusLimit bounds one census read; a larger directory is sampled by
// its first users in id order, which is as good a picture of the shapes.
const censusLimit = 200000

// Census reads the current census of usable enrollments.
func (s *Store) Census(ctx context.Context) (Census, error) {
	type item struct {
		UserID, Method, Label string
	}
	var rows []item
	if err := s.db(ctx).Model(&row{}).Select("user_id", "method", "label").Where("usable_at <= ?", s.now().UTC()).
		Order("user_id").Limit(censusLimit).Find(&rows).Error; err != nil {
		return Census{}, fmt.Errorf("method: census: %w", err)
	}
	c := Census{Combos: map[string]int{}, Domains: map[string]int{}}
	var cur string
	var kinds []string
	flush := func() {
		if len(kinds) > 0 {
			slices.Sort(kinds)
			c.Combos[strings.Join(kinds, ",")]++
		}
		kinds = kinds[:0]
	}
	for _, r := range rows {
		if r.UserID != cur {
			flush()
			cur = r.UserID
		}
		kinds = append(kinds, r.Method)
		if Name(r.Method) == Email {
			if i := strings.LastIndexByte(r.Label, '@'); i >= 0 && i < len(r.Label)-1 {
				c.Domains[strings.ToLower(r.Label[i+1:])]++
			}
		}
	}
	flush()
	return c, nil
}
