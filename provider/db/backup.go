package db

import (
	"context"
	"errors"
	"fmt"
	"os"

	"gorm.io/gorm"
)

// ErrBackupNotSQLite means Backup was asked to copy a MySQL database;
// mysqldump --single-transaction does that job (see the README).
var ErrBackupNotSQLite = errors.New("db: backup copies SQLite databases; for MySQL use mysqldump --single-transaction")

// Backup writes a consistent copy of the open SQLite database g to the
// new file to, while the database stays in use: VACUUM INTO reads one
// snapshot of every table (a plain file copy could catch a write half
// done or miss the WAL). The copy holds password hashes and values sealed
// under LATCHKEY_SECRET, so it is created 0600 like the database itself;
// an existing file is never overwritten.
func Backup(ctx context.Context, g *gorm.DB, to string) error {
	if g.Dialector.Name() != SQLite {
		return ErrBackupNotSQLite
	}
	f, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- the operator's chosen path
	if err != nil {
		return fmt.Errorf("db: backup: %w", err)
	}
	_ = f.Close()
	// VACUUM INTO accepts an empty existing file and keeps its mode.
	if err := g.WithContext(ctx).Exec("VACUUM INTO ?", to).Error; err != nil {
		_ = os.Remove(to)
		return fmt.Errorf("db: backup: %w", err)
	}
	return nil
}
