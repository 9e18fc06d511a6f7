package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// Migration is one versioned schema step. Each step declares its own frozen
// copies of the table structs, so later changes to the live models never
// rewrite history.
type Migration = gormigrate.Migration

// Set is an ordered list of migrations recorded in its own table, so the
// provider and the SSPR plugin (which can be mounted in another app) keep
// separate histories in one database.
type Set struct {
	Table      string // e.g. "latchkey_migrations"
	Migrations []*Migration
}

// ErrLockTimeout means another instance held the migration lock too long.
var ErrLockTimeout = errors.New("db: timed out waiting for the migration lock")

// ErrSchemaNewer means the database holds a migration this binary does not
// know: a newer release migrated it. Running on would read and write tables
// whose meaning has changed (a downgrade is not a supported rollback), so
// the binary stops and says which versions it saw.
var ErrSchemaNewer = errors.New("database schema is newer than this latchkey")

// Migrate applies every pending migration of set. Two instances starting at
// once are serialised: on MySQL by a named lock (DDL is not transactional
// there; on a Galera cluster also by a lock row every node sees), on SQLite by one IMMEDIATE transaction around the whole run.
func Migrate(ctx context.Context, g *gorm.DB, set Set) error {
	g = g.WithContext(ctx)
	opts := &gormigrate.Options{
		TableName:      set.Table,
		IDColumnName:   "id",
		IDColumnSize:   190,
		UseTransaction: g.Dialector.Name() == SQLite,
	}
	run := func() error {
		if err := checkNotNewer(g, set); err != nil {
			return err
		}
		if err := gormigrate.New(Tables(g), opts, set.Migrations).Migrate(); err != nil {
			return fmt.Errorf("db: migrate %s: %w", set.Table, err)
		}
		return nil
	}
	if g.Dialector.Name() != MySQL {
		return run()
	}
	sqlDB, err := g.DB()
	if err != nil {
		return fmt.Errorf("db: migrate: %w", err)
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("db: migrate: %w", err)
	}
	defer conn.Close()
	lock := "latchkey:" + set.Table
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 120)", lock).Scan(&got); err != nil {
		return fmt.Errorf("db: migrate lock: %w", err)
	}
	if !got.Valid || got.Int64 != 1 {
		return ErrLockTimeout
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(?)", lock) //nolint:errcheck // released with the connection anyway
	galera, err := onGalera(ctx, conn)
	if err != nil {
		return fmt.Errorf("db: migrate: %w", err)
	}
	if galera {
		release, err := clusterLock(ctx, conn, lock, 120*time.Second)
		if err != nil {
			return err
		}
		defer release()
	}
	return run()
}

// checkNotNewer fails with ErrSchemaNewer when the migration table of set
// records an ID that set does not contain. It runs under the migration lock,
// so a newer instance migrating at the same moment is seen.
func checkNotNewer(g *gorm.DB, set Set) error {
	if len(set.Migrations) == 0 || !g.Migrator().HasTable(set.Table) {
		return nil
	}
	var applied []string
	if err := g.Table(set.Table).Order("id").Pluck("id", &applied).Error; err != nil {
		return fmt.Errorf("db: read %s: %w", set.Table, err)
	}
	known := make(map[string]bool, len(set.Migrations))
	for _, m := range set.Migrations {
		known[m.ID] = true
	}
	var unknown []string
	for _, id := range applied {
		if !known[id] {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	return fmt.Errorf("%w (%s: the database has %s applied, this latchkey knows up to %s); upgrade latchkey",
		ErrSchemaNewer, set.Table, strings.Join(unknown, ", "), set.Migrations[len(set.Migrations)-1].ID)
}

// Tables returns g configured so that tables created through it use a
// byte-exact, no-pad collation on MySQL ('a' != 'A', 'a' != 'a ').
// Migrations must create their tables through it.
func Tables(g *gorm.DB) *gorm.DB {
	if g.Dialector.Name() != MySQL {
		return g
	}
	// Session makes the handle safe to chain from: without it gormigrate's
	// Table()/Where() calls accumulate on one shared statement, so a second
	// migration (or a second run) queries and creates the wrong tables.
	return g.Set("gorm:table_options", "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE="+binaryCollation(g)).
		Session(&gorm.Session{})
}

// binaryCollation is utf8mb4_nopad_bin on MariaDB and utf8mb4_0900_bin on
// MySQL 8: both compare bytes and do not ignore trailing spaces.
func binaryCollation(g *gorm.DB) string {
	var version string
	if err := g.Raw("SELECT VERSION()").Scan(&version).Error; err == nil &&
		!strings.Contains(strings.ToLower(version), "mariadb") {
		return "utf8mb4_0900_bin"
	}
	return "utf8mb4_nopad_bin"
}

// CreateTables creates the given frozen models through Tables.
func CreateTables(tx *gorm.DB, models ...any) error {
	return Tables(tx).Migrator().CreateTable(models...)
}
