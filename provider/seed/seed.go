package seed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Batch is the rows per INSERT; rowsPerTx INSERTs share a transaction.
const (
	Batch     = 500
	rowsPerTx = 20 * Batch
)

// Shapes of the rows written, column for column as provider/schema
// creates them; JSON list columns are written as their text.
type userRow struct {
	ID, Username, UsernameKey, Email, EmailKey, DisplayName, Phone string
	Disabled, Admin                                                bool
	PasswordHash                                                   string
	PasswordChangedAt                                              time.Time
	FailedLogins, Lockouts                                         int
	LockedUntil                                                    *time.Time
	BadPasswordMarks                                               string
	CreatedAt, UpdatedAt                                           time.Time
}

type accessTokenRow struct {
	ID, ClientID, Subject, GrantID, RefreshTokenID, SessionID, Scopes, Audience string
	CreatedAt, ExpiresAt                                                        time.Time
	RevokedAt                                                                   *time.Time
}

type refreshTokenRow struct {
	ID, TokenHash, FamilyID, GrantID, ClientID, UserID, SessionID, Scopes, Audience string
	AMR                                                                             string `gorm:"column:amr"`
	AuthTime, CreatedAt, ExpiresAt, FamilyExpiresAt                                 time.Time
	UsedAt, RevokedAt                                                               *time.Time
}

// insert writes n rows made by row(i) in batches and transactions.
func insert[T any](ctx context.Context, g *gorm.DB, table string, n int, row func(i int) T) error {
	for start := 0; start < n; start += rowsPerTx {
		end := min(start+rowsPerTx, n)
		err := g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			rows := make([]T, 0, Batch)
			for i := start; i < end; i++ {
				rows = append(rows, row(i))
				if len(rows) == Batch || i == end-1 {
					if err := tx.Table(table).Create(&rows).Error; err != nil {
						return err
					}
					rows = rows[:0]
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("seed: %s: %w", table, err)
		}
	}
	return nil
}

// Users adds n users named prefix0 … prefix(n-1) (prefix in lower case,
// so the names are their own normalised keys), with emails
// <name>@seed.example, all sharing passwordHash (a PHC string).
func Users(ctx context.Context, g *gorm.DB, prefix string, n int, passwordHash string) error {
	now := time.Now().UTC()
	return insert(ctx, g, "users", n, func(i int) userRow {
		name := fmt.Sprintf("%s%d", prefix, i)
		return userRow{ID: rand.Text(), Username: name, UsernameKey: name, Email: name + "@seed.example",
			EmailKey: name + "@seed.example", DisplayName: name, PasswordHash: passwordHash,
			PasswordChangedAt: now.Add(-24 * time.Hour), CreatedAt: now, UpdatedAt: now}
	})
}

// AccessTokens adds n access tokens of client for subject, issued an hour
// before expiresAt.
func AccessTokens(ctx context.Context, g *gorm.DB, client, subject string, n int, expiresAt time.Time) error {
	return insert(ctx, g, "oidc_access_tokens", n, func(int) accessTokenRow {
		return accessTokenRow{ID: rand.Text(), ClientID: client, Subject: subject, GrantID: rand.Text(),
			Scopes: `["openid"]`, Audience: `["` + client + `"]`,
			CreatedAt: expiresAt.Add(-time.Hour), ExpiresAt: expiresAt}
	})
}

// RefreshTokens adds n live-looking refresh tokens (each its own family)
// of client for userID whose family ends at familyExpiresAt. Their raw
// values are never known, so they cannot be redeemed: they only fill the
// table and its indexes.
func RefreshTokens(ctx context.Context, g *gorm.DB, client, userID string, n int, familyExpiresAt time.Time) error {
	created := familyExpiresAt.Add(-30 * 24 * time.Hour)
	return insert(ctx, g, "oidc_refresh_tokens", n, func(int) refreshTokenRow {
		id := rand.Text()
		return refreshTokenRow{ID: id, TokenHash: randomHex(), FamilyID: id, GrantID: rand.Text(),
			ClientID: client, UserID: userID, SessionID: rand.Text(), Scopes: `["openid","offline_access"]`,
			Audience: `["` + client + `"]`, AMR: `["pwd"]`, AuthTime: created, CreatedAt: created,
			ExpiresAt: familyExpiresAt, FamilyExpiresAt: familyExpiresAt}
	})
}

func randomHex() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}
