package db_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/db/dbtest"
	"github.com/latchkeyid/latchkey/provider/schema"
)

type probe struct {
	ID   uint64 `gorm:"primaryKey;autoIncrement"`
	Step string `gorm:"size:64;not null"`
}

func (probe) TableName() string { return "migrate_probe" }

// probeSet creates a table, then records one row per migration run, so a
// migration applied twice shows up as two rows.
func probeSet() db.Set {
	record := func(id string) *db.Migration {
		return &db.Migration{ID: id, Migrate: func(tx *gorm.DB) error {
			return tx.Create(&probe{Step: id}).Error
		}}
	}
	return db.Set{
		Table: "probe_migrations",
		Migrations: []*db.Migration{
			{ID: "0001_create", Migrate: func(tx *gorm.DB) error {
				if err := db.CreateTables(tx, &probe{}); err != nil {
					return err
				}
				return tx.Create(&probe{Step: "0001_create"}).Error
			}},
			record("0002_second"),
			record("0003_third"),
		},
	}
}

func runsPerStep(t *testing.T, g *gorm.DB) map[string]int {
	t.Helper()
	var rows []probe
	if err := g.Find(&rows).Error; err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Step]++
	}
	return out
}

func wantOnce(t *testing.T, g *gorm.DB) {
	t.Helper()
	got := runsPerStep(t, g)
	for _, m := range probeSet().Migrations {
		if got[m.ID] != 1 {
			t.Fatalf("migration %s ran %d times, want once (all: %v)", m.ID, got[m.ID], got)
		}
	}
	var n int64
	if err := g.Table("probe_migrations").Count(&n).Error; err != nil || n != 3 {
		t.Fatalf("probe_migrations has %d rows (%v), want 3", n, err)
	}
}

func TestMigrateTwiceIsIdempotent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		g := dbtest.Open(t, url)
		for i := range 2 {
			if err := db.Migrate(t.Context(), g, probeSet()); err != nil {
				t.Fatalf("run %d: %v", i+1, err)
			}
		}
		wantOnce(t, g)
		// A new step appended later runs alone.
		more := probeSet()
		more.Migrations = append(more.Migrations, &db.Migration{ID: "0004_later", Migrate: func(tx *gorm.DB) error {
			return tx.Create(&probe{Step: "0004_later"}).Error
		}})
		if err := db.Migrate(t.Context(), g, more); err != nil {
			t.Fatal(err)
		}
		if got := runsPerStep(t, g); got["0004_later"] != 1 || got["0003_third"] != 1 {
			t.Fatalf("after appending a step: %v", got)
		}
	})
}

// Several instances starting at once on one database: every Migrate call
// succeeds and each migration is applied exactly once.
func TestMigrateConcurrently(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		const instances = 4
		pools := make([]*gorm.DB, instances)
		for i := range pools {
			pools[i] = dbtest.Open(t, url) // separate pools, like separate processes
		}
		var wg sync.WaitGroup
		errs := make([]error, instances)
		for i, g := range pools {
			wg.Go(func() { errs[i] = db.Migrate(t.Context(), g, probeSet()) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("instance %d: %v", i, err)
			}
		}
		wantOnce(t, pools[0])
	})
}

// The provider's real history applies cleanly, twice, and concurrently.
func TestProviderSchemaMigrates(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		a, b := dbtest.Open(t, url), dbtest.Open(t, url)
		var wg sync.WaitGroup
		var errA, errB error
		wg.Go(func() { errA = db.Migrate(t.Context(), a, schema.Set()) })
		wg.Go(func() { errB = db.Migrate(t.Context(), b, schema.Set()) })
		wg.Wait()
		if errA != nil || errB != nil {
			t.Fatalf("concurrent: %v / %v", errA, errB)
		}
		if err := db.Migrate(t.Context(), a, schema.Set()); err != nil {
			t.Fatalf("again: %v", err)
		}
		var n int64
		a.Table(schema.Set().Table).Count(&n)
		if want := len(schema.Set().Migrations); int(n) != want {
			t.Fatalf("%d migrations recorded, want %d", n, want)
		}
	})
}

// Concurrent transactions that read and then write all succeed (writers
// queue): on SQLite this needs BEGIN IMMEDIATE, see SQLiteDSN.
func TestConcurrentReadThenWriteTransactions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		g := dbtest.Open(t, url, probeSet())
		other := dbtest.Open(t, url) // a second instance on the same database
		const n = 20
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			pool := g
			if i%2 == 1 {
				pool = other
			}
			wg.Go(func() {
				errs[i] = pool.WithContext(t.Context()).Transaction(func(tx *gorm.DB) error {
					var c int64
					if err := tx.Model(&probe{}).Count(&c).Error; err != nil {
						return err
					}
					return tx.Create(&probe{Step: fmt.Sprintf("tx-%d-after-%d", i, c)}).Error
				})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("transaction %d: %v", i, err)
			}
		}
		var total int64
		g.Model(&probe{}).Where("step LIKE ?", "tx-%").Count(&total)
		if total != n {
			t.Fatalf("%d rows written, want %d", total, n)
		}
		// Rollback leaves nothing behind and the pool stays usable.
		boom := fmt.Errorf("boom")
		if err := g.Transaction(func(tx *gorm.DB) error {
			if err := tx.Create(&probe{Step: "rolled-back"}).Error; err != nil {
				return err
			}
			return boom
		}); err != boom {
			t.Fatalf("rollback: %v", err)
		}
		var rb int64
		g.Model(&probe{}).Where("step = ?", "rolled-back").Count(&rb)
		if rb != 0 {
			t.Fatal("rolled-back row is visible")
		}
		if sqlDB, err := g.DB(); err != nil || sqlDB.Ping() != nil {
			t.Fatalf("DB() after transactions: %v", err)
		}
	})
}

// MySQL connections run READ COMMITTED, so concurrent one-time-credential
// updates do not deadlock on REPEATABLE READ gap locks.
func TestMySQLReadCommitted(t *testing.T) {
	g := dbtest.Open(t, dbtest.URL(t, dbtest.MySQL))
	var level string
	q := "SELECT @@transaction_isolation"
	if err := g.Raw("SELECT @@version").Scan(&level).Error; err == nil && strings.Contains(level, "MariaDB") {
		q = "SELECT @@tx_isolation"
	}
	if err := g.Raw(q).Scan(&level).Error; err != nil {
		t.Fatal(err)
	}
	if level != "READ-COMMITTED" {
		t.Fatalf("isolation = %q, want READ-COMMITTED", level)
	}
}

// TestMigrateRefusesNewerSchema: a database a newer release migrated holds
// a migration ID this binary does not know; the binary stops with both
// versions named instead of running on tables it does not understand.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, url string) {
		g := dbtest.Open(t, url)
		if err := db.Migrate(t.Context(), g, probeSet()); err != nil {
			t.Fatal(err)
		}
		if err := g.Exec("INSERT INTO probe_migrations (id) VALUES (?)", "0004_from_the_future").Error; err != nil {
			t.Fatal(err)
		}
		err := db.Migrate(t.Context(), g, probeSet())
		if !errors.Is(err, db.ErrSchemaNewer) {
			t.Fatalf("Migrate on a newer schema: %v, want ErrSchemaNewer", err)
		}
		for _, want := range []string{"database schema is newer than this latchkey", "0004_from_the_future", "0003_third", "upgrade latchkey"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		// Nothing ran again.
		wantOnceWithRows(t, g, 4)
	})
}

// wantOnceWithRows is wantOnce for a migration table that holds n rows.
func wantOnceWithRows(t *testing.T, g *gorm.DB, n int64) {
	t.Helper()
	got := runsPerStep(t, g)
	for _, m := range probeSet().Migrations {
		if got[m.ID] != 1 {
			t.Fatalf("migration %s ran %d times, want once (all: %v)", m.ID, got[m.ID], got)
		}
	}
	var rows int64
	if err := g.Table("probe_migrations").Count(&rows).Error; err != nil || rows != n {
		t.Fatalf("probe_migrations has %d rows (%v), want %d", rows, err, n)
	}
}
