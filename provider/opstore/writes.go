package opstore

import (
	"context"
	"time"

	"github.com/latchkeyid/latchkey/provider/db"
)

// The token path's writes, as hand-written statements run by db.Writer
// (prepared once, group-committed on SQLite) instead of GORM's
// reflection: they run on every token request. Times are bound as
// time.Time, as GORM binds them, so both write the same stored format.

// On SQLite the access tokens' indexes of grant_id and refresh_token_id
// hold only the rows where those are set (schema 0015): a query by either
// repeats that condition, or SQLite cannot use the index and reads the
// whole table. (It also keeps an empty id from matching every
// client-credentials token.)
const (
	accessHasGrant   = "grant_id <> ''"
	accessHasRefresh = "refresh_token_id <> ''"
)

const (
	sqlInsertAccessToken = "INSERT INTO oidc_access_tokens " +
		"(id, client_id, subject, grant_id, refresh_token_id, session_id, scopes, audience, created_at, expires_at) " +
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	sqlInsertRefreshToken = "INSERT INTO oidc_refresh_tokens " +
		"(id, token_hash, family_id, grant_id, client_id, user_id, session_id, scopes, audience, amr, " +
		"auth_time, created_at, expires_at, family_expires_at) " +
		"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	// A refresh token is used once: of any number of concurrent rotations
	// exactly one changes the row.
	sqlUseRefreshToken = "UPDATE oidc_refresh_tokens SET used_at = ? " +
		"WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?"
	sqlRevokeAccessOfRefresh = "UPDATE oidc_access_tokens SET revoked_at = ? " +
		"WHERE refresh_token_id = ? AND " + accessHasRefresh + " AND revoked_at IS NULL"
	sqlConsumeAuthRequest = "DELETE FROM oidc_auth_requests WHERE id = ? AND done = ?"
	sqlClaimCode          = "UPDATE oidc_auth_codes SET used_at = ? " +
		"WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?"
)

func insertAccessToken(ex db.Execer, at *accessTokenRow) error {
	_, err := ex.Exec(sqlInsertAccessToken, at.insertArgs()...)
	return err
}

// insertArgs are at's values for sqlInsertAccessToken.
func (at *accessTokenRow) insertArgs() []any {
	return []any{at.ID, at.ClientID, at.Subject, at.GrantID, at.RefreshTokenID,
		at.SessionID, jsonList(at.Scopes), jsonList(at.Audience), at.CreatedAt, at.ExpiresAt}
}

func insertRefreshToken(ex db.Execer, rt *refreshTokenRow) error {
	_, err := ex.Exec(sqlInsertRefreshToken, rt.ID, rt.TokenHash, rt.FamilyID, rt.GrantID, rt.ClientID,
		rt.UserID, rt.SessionID, jsonList(rt.Scopes), jsonList(rt.Audience), jsonList(rt.AMR),
		rt.AuthTime, rt.CreatedAt, rt.ExpiresAt, rt.FamilyExpiresAt)
	return err
}

// consumeAuthRequest deletes the completed request inside the token
// transaction: if a code replay already deleted it, no token is made.
func consumeAuthRequest(ex db.Execer, id string) error {
	n, err := ex.Exec(sqlConsumeAuthRequest, id, true)
	if err != nil {
		return err
	}
	if n != 1 {
		return errInvalidGrant("invalid code")
	}
	return nil
}

// write runs fn through the Writer, again (bounded, with jitter) when
// MySQL picks it as a deadlock victim or a Galera node loses it to
// another node's commit.
func (s *Storage) write(ctx context.Context, op string, fn func(db.Execer) error) error {
	return db.Retry(ctx, op, func() error { return s.w.Do(ctx, fn) })
}

// useRefreshToken is rotation's transaction: mark old used (errReused if
// another use won), end the access tokens issued with it, save the next.
func useRefreshToken(ex db.Execer, oldID string, now time.Time, rt *refreshTokenRow, at *accessTokenRow) error {
	n, err := ex.Exec(sqlUseRefreshToken, now, oldID, now)
	if err != nil {
		return err
	}
	if n != 1 {
		return errReused
	}
	if _, err := ex.Exec(sqlRevokeAccessOfRefresh, now, oldID); err != nil {
		return err
	}
	if err := insertRefreshToken(ex, rt); err != nil {
		return err
	}
	return insertAccessToken(ex, at)
}
