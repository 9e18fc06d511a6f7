package db_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/latchkeyid/latchkey/provider/db"
	"github.com/latchkeyid/latchkey/provider/schema"
)

// TestSQLiteFilesArePrivate: the database file and the -wal and -shm files
// SQLite creates beside it are 0600 and a new data directory 0700, even
// under a permissive umask: they hold password hashes and sealed secrets.
func TestSQLiteFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask: files 0644 unless we say otherwise
	t.Cleanup(func() { syscall.Umask(old) })
	dir := filepath.Join(t.TempDir(), "data", "sub")
	path := filepath.Join(dir, "latchkey.db")
	g, err := db.Open(t.Context(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(g) })
	if err := db.Migrate(t.Context(), g, schema.Set()); err != nil { // writes: WAL and SHM exist now
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want os.FileMode
	}{
		{"database", path, 0o600},
		{"wal", path + "-wal", 0o600},
		{"shm", path + "-shm", 0o600},
		{"data-dir", dir, 0o700},
		{"data-dir-parent", filepath.Dir(dir), 0o700},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := os.Stat(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Mode().Perm(); got != tt.want {
				t.Fatalf("%s: mode %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}
