package user

import "context"

// Groups returns the groups of the user with id, empty for an unknown id.
// It is the query ByID runs after finding a user, so a caller standing in
// for an unknown user (a recovery decoy) can run the same queries as for
// a known one.
func (s *Store) Groups(ctx context.Context, id string) ([]string, error) {
	var out []string
	if err := s.db(ctx).Model(&group{}).Where("user_id = ?", id).Order("group_name").Pluck("group_name", &out).Error; err != nil {
		return nil, wrap("groups", err)
	}
	return out, nil
}
