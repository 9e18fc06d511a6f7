package opstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync"
	"time"
)

// reads runs the token path's hot lookups as prepared statements on the
// read pool, without GORM's reflection.
type reads struct {
	pool  *sql.DB
	stmts sync.Map // query text → *sql.Stmt
}

func (r *reads) queryRow(ctx context.Context, query string, args ...any) (*sql.Row, error) {
	if r.pool == nil {
		return nil, errors.New("opstore: no database pool")
	}
	if s, ok := r.stmts.Load(query); ok {
		return s.(*sql.Stmt).QueryRowContext(ctx, args...), nil
	}
	s, err := r.pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := r.stmts.LoadOrStore(query, s); loaded {
		_ = s.Close()
		s = prev.(*sql.Stmt)
	}
	return s.QueryRowContext(ctx, args...), nil
}

const sqlRefreshColumns = "SELECT id, token_hash, family_id, grant_id, client_id, user_id, session_id, scopes, audience, amr, " +
	"auth_time, created_at, expires_at, family_expires_at, used_at, revoked_at FROM oidc_refresh_tokens WHERE token_hash "

// sqlRefreshByHash holds the query for one candidate hash and for two
// (while LATCHKEY_SECRET_PREVIOUS is set).
var sqlRefreshByHash = [...]string{
	sqlRefreshColumns + "= ?",
	sqlRefreshColumns + "IN (?, ?) LIMIT 1",
}

// refreshByHashes loads the refresh token stored under one of hashes
// (nil, nil when there is none).
func (s *Storage) refreshByHashes(ctx context.Context, hashes []string) (*refreshTokenRow, error) {
	if len(hashes) == 0 || len(hashes) > len(sqlRefreshByHash) {
		return nil, errors.New("opstore: unexpected number of secret hashes")
	}
	args := make([]any, len(hashes))
	for i, h := range hashes {
		args[i] = h
	}
	row, err := s.r.queryRow(ctx, sqlRefreshByHash[len(hashes)-1], args...)
	if err != nil {
		return nil, err
	}
	var rt refreshTokenRow
	var scopes, audience, amr string
	var used, revoked sql.NullTime
	err = row.Scan(&rt.ID, &rt.TokenHash, &rt.FamilyID, &rt.GrantID, &rt.ClientID, &rt.UserID, &rt.SessionID,
		&scopes, &audience, &amr, &rt.AuthTime, &rt.CreatedAt, &rt.ExpiresAt, &rt.FamilyExpiresAt, &used, &revoked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, err
	}
	for _, l := range []struct {
		text string
		to   *[]string
	}{{scopes, &rt.Scopes}, {audience, &rt.Audience}, {amr, &rt.AMR}} {
		if err := json.Unmarshal([]byte(l.text), l.to); err != nil {
			return nil, err
		}
	}
	rt.UsedAt, rt.RevokedAt = nullTime(used), nullTime(revoked)
	for _, t := range []*time.Time{&rt.AuthTime, &rt.CreatedAt, &rt.ExpiresAt, &rt.FamilyExpiresAt} {
		*t = t.UTC()
	}
	return &rt, nil
}

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func newReads(pool *sql.DB) *reads { return &reads{pool: pool} }
